//! An HTTP receiver on loopback for notification tests: records every request and
//! answers 500 to the first N (a receiver outage), 200 afterwards.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP receiver on loopback that answers 500 to the first `fail_first` requests.
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    pub fail_first: Arc<AtomicUsize>,
}

impl Receiver {
    pub fn requests(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }
}

pub fn start_receiver(fail_first: usize) -> Receiver {
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let fail = Arc::new(AtomicUsize::new(fail_first));
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (g, f) = (Arc::clone(&got), Arc::clone(&fail));
    let server = HttpServer::new(move || {
        let (g, f) = (Arc::clone(&g), Arc::clone(&f));
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let (g, f) = (Arc::clone(&g), Arc::clone(&f));
            async move {
                let failing = f
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                let answered = if failing { 500 } else { 200 };
                g.lock().expect("lock").push(Received {
                    headers: req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                        .collect(),
                    body: String::from_utf8_lossy(&body).to_string(),
                    answered,
                });
                if failing {
                    HttpResponse::InternalServerError().body("down for maintenance")
                } else {
                    HttpResponse::Ok().body("ok")
                }
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    actix_web::rt::spawn(server);
    Receiver {
        url: format!("http://127.0.0.1:{port}/hook"),
        got,
        fail_first: fail,
    }
}
