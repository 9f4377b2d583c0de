//! An HTTP receiver on loopback for notification tests: records every request and
//! answers 500 to the first N (a receiver outage), 200 afterwards. It can also hold
//! requests without answering (a stalled receiver) until told to let them go.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub answered: u16,
    /// When the request arrived (before any holding).
    pub arrived: Instant,
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
    /// While set, requests are held unanswered (they are recorded on arrival, with the
    /// answer they will get).
    pub hold: Arc<AtomicBool>,
}

impl Receiver {
    pub fn requests(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }
}

pub fn start_receiver(fail_first: usize) -> Receiver {
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let fail = Arc::new(AtomicUsize::new(fail_first));
    let hold = Arc::new(AtomicBool::new(false));
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (g, f, h) = (Arc::clone(&got), Arc::clone(&fail), Arc::clone(&hold));
    let server = HttpServer::new(move || {
        let (g, f, h) = (Arc::clone(&g), Arc::clone(&f), Arc::clone(&h));
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let (g, f, h) = (Arc::clone(&g), Arc::clone(&f), Arc::clone(&h));
            async move {
                let arrived = Instant::now();
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
                    arrived,
                });
                while h.load(Ordering::SeqCst) {
                    actix_web::rt::time::sleep(Duration::from_millis(20)).await;
                }
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
        hold,
    }
}
