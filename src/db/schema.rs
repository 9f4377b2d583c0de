//! Diesel table definitions, maintained by hand: `diesel print-schema` differs per
//! backend, and both migration directories (`migrations/{postgres,sqlite}`) must
//! produce exactly these tables and columns (checked by a test on both backends).

diesel::table! {
    customers (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        analytics_mode -> Text,
        created_at -> Timestamp,
        alert_cooldown_minutes -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        customer_id -> BigInt,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        is_staff -> Bool,
        is_active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        password_changed_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (key_hash) {
        key_hash -> Text,
        user_id -> Nullable<BigInt>,
        state -> Text,
        created_at -> Timestamp,
        refreshed_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    uploads (id) {
        id -> BigInt,
        customer_id -> BigInt,
        uploaded_by -> Nullable<BigInt>,
        file_name -> Text,
        sha256 -> Nullable<Text>,
        size_bytes -> BigInt,
        status -> Text,
        total_rows -> BigInt,
        accepted_rows -> BigInt,
        rejected_rows -> BigInt,
        warning_rows -> BigInt,
        quality_score_centi -> Nullable<BigInt>,
        message -> Nullable<Text>,
        duplicate_of -> Nullable<BigInt>,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    upload_reports (upload_id) {
        upload_id -> BigInt,
        report_json -> Text,
    }
}

diesel::table! {
    upload_rejections (id) {
        id -> BigInt,
        upload_id -> BigInt,
        row_number -> BigInt,
        column_name -> Text,
        reason -> Text,
    }
}

diesel::table! {
    claim_records (id) {
        id -> BigInt,
        customer_id -> BigInt,
        upload_id -> BigInt,
        payer_raw -> Text,
        payer -> Text,
        cpt -> Text,
        cpt_group -> Text,
        submitted_date -> Date,
        decided_date -> Date,
        decision_days -> Integer,
        outcome -> Text,
        allowed_cents -> Nullable<BigInt>,
        denial_reason_code -> Nullable<Text>,
        denial_reason_text -> Nullable<Text>,
        payer_id -> Nullable<Text>,
        modifiers -> Nullable<Text>,
        remark_codes -> Nullable<Text>,
        adjustments -> Nullable<Text>,
        claim_key -> Nullable<BigInt>,
        svc_segment -> Nullable<BigInt>,
        reversed_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    claim_reversals (id) {
        id -> BigInt,
        customer_id -> BigInt,
        upload_id -> BigInt,
        segment -> BigInt,
        claim_key -> Nullable<BigInt>,
        lines -> BigInt,
    }
}

diesel::table! {
    payer_aliases (id) {
        id -> BigInt,
        customer_id -> BigInt,
        alias_key -> Text,
        alias -> Text,
        canonical -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    cpt_groups (id) {
        id -> BigInt,
        customer_id -> BigInt,
        code_start -> Text,
        code_end -> Text,
        group_name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        occurred_at -> Timestamp,
        customer_id -> Nullable<BigInt>,
        actor_user_id -> Nullable<BigInt>,
        action -> Text,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Text>,
        changed_fields -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        request_id -> Nullable<Text>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        scope -> Text,
        key_hash -> Text,
        failed_at -> Timestamp,
    }
}

diesel::table! {
    password_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        purpose -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    report_runs (id) {
        id -> BigInt,
        customer_id -> BigInt,
        product -> Text,
        mode -> Text,
        status -> Text,
        trigger_source -> Text,
        as_of -> Nullable<Date>,
        parameters_json -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        rows_scanned -> BigInt,
        groups_considered -> BigInt,
        groups_insufficient -> BigInt,
        events_created -> BigInt,
        comparison_json -> Nullable<Text>,
        insufficient_json -> Nullable<Text>,
        error_message -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        job_id -> Nullable<BigInt>,
        claims_covered -> Nullable<BigInt>,
    }
}

diesel::table! {
    jobs (id) {
        id -> BigInt,
        customer_id -> BigInt,
        kind -> Text,
        upload_id -> Nullable<BigInt>,
        payload -> Text,
        state -> Text,
        attempts -> BigInt,
        run_after -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        error -> Nullable<Text>,
        follow_up_job_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        progress_rows -> Nullable<BigInt>,
        progress_bytes -> Nullable<BigInt>,
    }
}

diesel::table! {
    drift_events (id) {
        id -> BigInt,
        customer_id -> BigInt,
        run_id -> BigInt,
        product -> Text,
        mode -> Text,
        kind -> Text,
        payer -> Text,
        cpt_group -> Text,
        direction -> Text,
        baseline_value -> Double,
        current_value -> Double,
        delta -> Double,
        ci_low -> Nullable<Double>,
        ci_high -> Nullable<Double>,
        p_value -> Nullable<Double>,
        q_value -> Nullable<Double>,
        severity -> Double,
        severity_label -> Text,
        confidence -> Nullable<Double>,
        baseline_n -> BigInt,
        current_n -> BigInt,
        baseline_start -> Date,
        baseline_end -> Date,
        current_start -> Date,
        current_end -> Date,
        evidence_json -> Text,
        continuing -> Bool,
        first_event_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        dollars_per_month -> Nullable<Double>,
    }
}

diesel::table! {
    alert_rules (id) {
        id -> BigInt,
        customer_id -> BigInt,
        name -> Text,
        payer -> Nullable<Text>,
        cpt_group -> Nullable<Text>,
        product -> Nullable<Text>,
        kind -> Nullable<Text>,
        direction -> Nullable<Text>,
        metric -> Text,
        comparison -> Text,
        threshold -> Double,
        channel_ids -> Text,
        enabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        min_severity -> Nullable<Text>,
        min_dollars_per_month -> Nullable<Double>,
        min_rate_delta_points -> Nullable<Double>,
        min_days_delta -> Nullable<Double>,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    alert_events (id) {
        id -> BigInt,
        customer_id -> BigInt,
        drift_event_id -> Nullable<BigInt>,
        upload_id -> Nullable<BigInt>,
        rule_id -> BigInt,
        product -> Text,
        kind -> Text,
        payer -> Text,
        cpt_group -> Text,
        severity -> Double,
        severity_label -> Text,
        title -> Text,
        payload_json -> Text,
        initial_status -> Text,
        suppression_json -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    alert_status_history (id) {
        id -> BigInt,
        alert_id -> BigInt,
        status -> Text,
        actor_user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    alert_judgments (id) {
        id -> BigInt,
        alert_id -> BigInt,
        user_id -> BigInt,
        verdict -> Text,
        note -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notification_channels (id) {
        id -> BigInt,
        customer_id -> BigInt,
        name -> Text,
        kind -> Text,
        target -> Text,
        settings_json -> Text,
        secret_sealed -> Nullable<Text>,
        enabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    deliveries (id) {
        id -> BigInt,
        customer_id -> BigInt,
        alert_id -> Nullable<BigInt>,
        channel_id -> BigInt,
        status -> Text,
        attempts -> BigInt,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_status_code -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        digest_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    delivery_attempts (id) {
        id -> BigInt,
        delivery_id -> BigInt,
        attempt_number -> BigInt,
        started_at -> Timestamp,
        latency_ms -> BigInt,
        status_code -> Nullable<BigInt>,
        outcome -> Text,
        error -> Nullable<Text>,
    }
}

diesel::joinable!(users -> customers (customer_id));
diesel::joinable!(deliveries -> notification_channels (channel_id));
diesel::joinable!(deliveries -> alert_events (alert_id));
diesel::joinable!(delivery_attempts -> deliveries (delivery_id));
diesel::joinable!(alert_judgments -> alert_events (alert_id));
diesel::joinable!(alert_judgments -> users (user_id));
diesel::joinable!(alert_status_history -> alert_events (alert_id));
diesel::joinable!(uploads -> customers (customer_id));
diesel::joinable!(claim_records -> uploads (upload_id));
diesel::joinable!(upload_rejections -> uploads (upload_id));
diesel::joinable!(upload_reports -> uploads (upload_id));
diesel::joinable!(payer_aliases -> customers (customer_id));
diesel::joinable!(cpt_groups -> customers (customer_id));

diesel::table! {
    /// The newest status of each alert (migration 2026-12-06-600000).
    alert_current_status (alert_id) {
        alert_id -> BigInt,
        customer_id -> BigInt,
        status -> Text,
        assignee_user_id -> Nullable<BigInt>,
        due_on -> Nullable<Date>,
    }
}

diesel::table! {
    /// Comments on alerts, append-only (migration 2026-12-06-650000).
    alert_comments (id) {
        id -> BigInt,
        alert_id -> BigInt,
        customer_id -> BigInt,
        user_id -> BigInt,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// A person's named list filters (migration 2026-12-06-650000).
    saved_filters (id) {
        id -> BigInt,
        customer_id -> BigInt,
        user_id -> BigInt,
        page -> Text,
        name -> Text,
        query -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Who asked for the daily alert digest (migration 2026-12-06-650000).
    alert_digest_subscriptions (user_id) {
        user_id -> BigInt,
        customer_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// One queued digest per person per day (migration 2026-12-06-650000).
    alert_digests (id) {
        id -> BigInt,
        customer_id -> BigInt,
        user_id -> BigInt,
        digest_on -> Date,
        alert_ids -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(alert_comments -> users (user_id));

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        customer_id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        token_hash -> Text,
        prefix -> Text,
        role_cap -> Text,
        expires_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(api_tokens -> users (user_id));

diesel::table! {
    /// Daily claim rollups (migrations 2026-12-06-980000 and -999000, `db::repo::rollups`).
    claim_day_rollups (customer_id, decided_date, payer, cpt_group) {
        customer_id -> BigInt,
        decided_date -> Date,
        payer -> Text,
        cpt_group -> Text,
        entries -> Binary,
    }
}

diesel::table! {
    /// Denied claims per day, payer and reason (migration 2026-12-06-980000).
    claim_reason_rollups (customer_id, basis, day, payer, reason) {
        customer_id -> BigInt,
        basis -> Text,
        day -> Date,
        payer -> Text,
        reason -> Text,
        denied -> BigInt,
        denied_cents -> BigInt,
    }
}

diesel::table! {
    /// Per-tenant counter of rollup changes (migration 2026-12-06-996000).
    rollup_versions (customer_id) {
        customer_id -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    /// Per-tenant version of what the alert pages show, moved by triggers on every write
    /// to it (migration 2026-12-06-999500, `db::repo::page_versions`).
    alert_versions (customer_id) {
        customer_id -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    invitations (id) {
        id -> BigInt,
        customer_id -> BigInt,
        email -> Text,
        role -> Text,
        token_hash -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        accepted_at -> Nullable<Timestamp>,
        accepted_user_id -> Nullable<BigInt>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    alert_comments,
    alert_current_status,
    alert_digest_subscriptions,
    alert_digests,
    saved_filters,
    api_tokens,
    customers,
    invitations,
    users,
    sessions,
    uploads,
    upload_reports,
    upload_rejections,
    claim_records,
    claim_reversals,
    claim_day_rollups,
    claim_reason_rollups,
    rollup_versions,
    alert_versions,
    payer_aliases,
    cpt_groups,
    audit_events,
    login_failures,
    password_tokens,
    report_runs,
    drift_events,
    alert_rules,
    alert_events,
    alert_status_history,
    alert_judgments,
    notification_channels,
    deliveries,
    delivery_attempts,
    jobs,
);
