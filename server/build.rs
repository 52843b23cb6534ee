//! Re-runs the build when migrations change (they are embedded) and embeds the provider files
//! from `configs/providers/` so the binary works without the source tree.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    println!("cargo:rerun-if-changed=../configs/providers");
    let dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../configs/providers");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    let mut out = String::from("pub(crate) const EMBEDDED_PROVIDERS: &[(&str, &str)] = &[\n");
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let abs = path.canonicalize().unwrap();
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            abs.display().to_string()
        )
        .unwrap();
        println!("cargo:rerun-if-changed={}", abs.display());
    }
    out.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::write(out_dir.join("embedded_providers.rs"), out).unwrap();
    embed_dashboard(&out_dir);
}

/// Embeds the dashboard: `dashboard/dist` (a local `trunk build`, scripts/build-dashboard.sh) when
/// it holds an `index.html`, else the build shipped in the repository, `dashboard/prebuilt/dist`
/// (kept in step with the sources by scripts/check-dashboard-prebuilt.sh), so building api-proxy
/// needs no trunk. With neither, `/` says how to build it.
fn embed_dashboard(out_dir: &std::path::Path) {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../dashboard");
    let local = root.join("dist");
    let use_local = local.join("index.html").is_file();
    let dist = if use_local {
        local
    } else {
        root.join("prebuilt/dist")
    };
    // Watch the folder embedded; and the dashboard folder when the local build is absent, to
    // notice it appearing (a missing path would rerun this script on every build).
    println!("cargo:rerun-if-changed={}", dist.display());
    if !use_local && root.exists() {
        println!("cargo:rerun-if-changed={}", root.display());
    }
    let mut files = Vec::new();
    collect(&dist, &dist, &mut files);
    files.sort();
    let mut out = String::from("pub(crate) const EMBEDDED_DASHBOARD: &[(&str, &[u8])] = &[\n");
    for (rel, abs) in files {
        writeln!(
            out,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    std::fs::write(out_dir.join("embedded_dashboard.rs"), out).unwrap();
}

fn collect(base: &std::path::Path, dir: &std::path::Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // Hidden files are bookkeeping (build-dashboard.sh's `.inputs.sha256`, trunk's `.stage`).
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(base, &path, files);
        } else if let Ok(rel) = path.strip_prefix(base) {
            let rel = rel.to_string_lossy().replace('\\', "/");
            files.push((rel, path.canonicalize().unwrap()));
        }
    }
}
