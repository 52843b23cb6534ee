//! `bare-forwarder --port N --upstream URL [--idle-upstream URL] [--workers N]`: forwards every
//! `POST` to `URL` + the request path (under `/idle/…` to the idle upstream instead), body and
//! content type only (and, for Anthropic's Messages API, its key and version headers), and relays
//! the answer as it arrives. No parsing, routing, accounting,
//! logging or translation: what actix-web and awc cost by themselves, the floor under api-proxy
//! on the same stack. Prints `BARE_LISTENING http://127.0.0.1:PORT` once ready.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

struct Upstreams {
    main: String,
    idle: String,
}

async fn forward(
    req: HttpRequest,
    body: web::Bytes,
    upstreams: web::Data<Upstreams>,
    client: web::Data<awc::Client>,
) -> HttpResponse {
    let url = match req.path().strip_prefix("/idle") {
        Some(rest) => format!("{}{rest}", upstreams.idle),
        None => format!("{}{}", upstreams.main, req.path()),
    };
    let mut upstream = client.post(url);
    if let Some(ct) = req.headers().get(CONTENT_TYPE) {
        upstream = upstream.insert_header((CONTENT_TYPE, ct.clone()));
    }
    for name in ["x-api-key", "anthropic-version"] {
        if let Some(value) = req.headers().get(name) {
            upstream = upstream.insert_header((name, value.clone()));
        }
    }
    match upstream.send_body(body).await {
        Ok(response) => {
            let mut out = HttpResponse::build(response.status());
            if let Some(ct) = response.headers().get(CONTENT_TYPE) {
                out.insert_header((CONTENT_TYPE, ct.clone()));
            }
            out.streaming(response)
        }
        Err(e) => HttpResponse::BadGateway().body(e.to_string()),
    }
}

fn main() -> std::io::Result<()> {
    let mut port = 0u16;
    let mut main_upstream = None;
    let mut idle_upstream = None;
    let mut workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--port" => port = value.parse().expect("--port N"),
            "--upstream" => main_upstream = Some(value),
            "--idle-upstream" => idle_upstream = Some(value),
            "--workers" => workers = value.parse().expect("--workers N"),
            other => panic!("unknown flag {other}"),
        }
    }
    let main_upstream = main_upstream.expect("--upstream URL");
    let upstreams = web::Data::new(Upstreams {
        idle: idle_upstream.unwrap_or_else(|| main_upstream.clone()),
        main: main_upstream,
    });
    actix_rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            // As api-proxy builds its upstream client (server/src/upstream.rs).
            let client = awc::Client::builder()
                .connector(awc::Connector::new().limit(25_000))
                .disable_redirects()
                .disable_timeout()
                .finish();
            App::new()
                .app_data(upstreams.clone())
                .app_data(web::Data::new(client))
                .app_data(web::PayloadConfig::default().limit(16 * 1024 * 1024))
                .default_service(web::to(forward))
        })
        .workers(workers)
        .bind(("127.0.0.1", port))?;
        println!("BARE_LISTENING http://{}", server.addrs()[0]);
        server.run().await
    })
}
