//! Failover routes on a real `tern` (issue 12, DESIGN.md "Routing:
//! failover and re-routing"): a message goes to the first connector of
//! its failover route that is bound, so with the first one's SMSC down
//! messages go to the second, and back to the first once it is up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use e2e::*;
use smpp::CommandStatus as S;
use smpp::pdu::Body;
use smpp_session::BindMode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_route_sends_to_its_first_bound_connector() {
    // The first connector's SMSC is not there yet.
    let first_port = free_port();
    let second = Sim::start(&[]);
    let tern = Tern::start(&format!(
        "[smpp-server]\nbind = 127.0.0.1\nport = {{smpp_port}}\n\
         [http-api]\nbind = 127.0.0.1\nport = {{http_port}}\n\
         [user:alice]\npassword = pw\n\
         [connector:first]\nhost = 127.0.0.1\nport = {first_port}\nusername = u\npassword = p\nreconnect_delay = 1\n\
         [connector:second]\nhost = 127.0.0.1\nport = {}\nusername = u\npassword = p\nreconnect_delay = 1\n\
         [mt-route:10]\ntype = failover\nconnectors = first, second\n",
        second.port
    ));
    second.wait_for("second bound", Duration::from_secs(20), |c| {
        c["binds_active"] == 1
    });
    let (s, _events) = bind(tern.port, BindMode::Transmitter, "alice", "pw")
        .await
        .unwrap();
    let submit = |i| {
        let s = s.clone();
        async move {
            let r = s
                .send_request(Body::SubmitSm(sms(
                    "447700900123",
                    &format!("failover {i}"),
                    0,
                )))
                .await
                .unwrap();
            assert_eq!(r.await.unwrap().command_status, S::ESME_ROK);
        }
    };
    for i in 0..20 {
        submit(i).await;
    }
    second.wait_for("all 20 at the second", Duration::from_secs(20), |c| {
        c["submit_sm"] == 20
    });
    // The first comes up: new messages go to it.
    let first = Sim::start_on(first_port, &[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut i = 20;
    // Sent until one reaches the first (it binds within its reconnect
    // delay); none is lost on the way.
    loop {
        submit(i).await;
        i += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let at_second = second.counters()["submit_sm"].as_u64().unwrap() as usize;
        if at_second < i {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first never took over"
        );
    }
    // Every message reached one SMSC or the other, once.
    first.wait_for("the rest at the first", Duration::from_secs(20), |c| {
        c["submit_sm"].as_u64().unwrap() as usize
            + second.counters()["submit_sm"].as_u64().unwrap() as usize
            == i
    });
}
