//! A key actor that panics is restarted by its supervisor with its state reloaded from the
//! database, and requests keep flowing meanwhile.

use actix_web::http::StatusCode;
use api_proxy::actors::key::{GetSnapshot, SimulatePanic};
use mock_upstream::{MockConfig, MockUpstream};
use serde_json::json;

use crate::support::*;

#[actix_web::test]
async fn a_panicking_key_actor_is_restarted_with_its_state() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    let id = app
        .add_key(
            json!({"provider": "openai", "name": "main", "api_key": SECRET,
        "base_url": mock.openai_base(), "quota_total": 10}),
        )
        .await as i32;
    for _ in 0..2 {
        assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    }
    let addr = app.state().keys.addr(id).unwrap();
    let before = addr.send(GetSnapshot).await.unwrap();
    assert_eq!(
        (
            before.usage.calls,
            before.quota_remaining,
            before.generation
        ),
        (2, Some(8.0), 0)
    );

    addr.do_send(SimulatePanic);
    // The bid stays on the board, so this request is served while the actor restarts.
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);

    // Messages wait in the same mailbox; this one is answered after the reload.
    let after = addr.send(GetSnapshot).await.unwrap();
    assert_eq!(after.generation, 1, "the supervisor restarted the actor");
    assert_eq!(
        after.usage.calls, 3,
        "state reloaded (not the corrupted -1) plus the new call"
    );
    assert_eq!(after.quota_remaining, Some(7.0));
    assert_eq!(app.state().board.get(id).unwrap().generation, 1);

    // It goes on working after the restart.
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    assert_eq!(addr.send(GetSnapshot).await.unwrap().usage.calls, 4);
    app.stop().await;
}
