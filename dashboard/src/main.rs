//! The api-proxy dashboard: a Yew single-page app, built by Trunk into `dashboard/dist` and
//! embedded in the server binary, which serves it at `/`.
//!
//! Layout: `pages/` (one per route), `components/` (shared pieces), `hooks/` (contexts and data
//! loading), `services/` (REST, websocket, browser storage). Pure logic lives in `format`,
//! `i18n`, `backoff`, `plot`, `query` and `state/`, with host unit tests. Every wire type comes
//! from the `shared` crate.

mod app;
mod backoff;
mod components;
mod format;
mod hooks;
mod i18n;
mod pages;
mod plot;
mod query;
mod route;
mod services;
mod state;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
