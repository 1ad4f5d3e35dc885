//! Tools for auditors and admins over the event store. The first: rebuild
//! read models from the whole history, with a progress bar.
#![forbid(unsafe_code)]

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use skalio_id_projections::projector::{Projector, ProjectorError};

/// What one rebuild did.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub projection: String,
    pub events: u64,
    pub elapsed: Duration,
}

/// Rebuilds the named read models (all of them when `names` is empty), one
/// after another, each in a single transaction so that readers never see a
/// half-built model. Consumers with outside effects (mail) are skipped when
/// rebuilding all, and refused when named.
pub async fn rebuild(
    projector: &Projector,
    names: &[String],
    show_progress: bool,
) -> Result<Vec<Rebuilt>, ProjectorError> {
    let targets: Vec<String> = if names.is_empty() {
        projector
            .read_model_names()
            .into_iter()
            .map(str::to_string)
            .collect()
    } else {
        names.to_vec()
    };
    let mut done = Vec::new();
    for name in targets {
        let bar = progress_bar(&name, show_progress);
        let started = std::time::Instant::now();
        let on_progress = |applied: u64, total: u64| {
            bar.set_length(total);
            bar.set_position(applied);
        };
        let events = projector.rebuild(&name, &on_progress).await?;
        bar.finish();
        done.push(Rebuilt {
            projection: name,
            events,
            elapsed: started.elapsed(),
        });
    }
    Ok(done)
}

fn progress_bar(name: &str, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    let style =
        ProgressStyle::with_template("{prefix:>22} [{bar:40}] {pos}/{len} events ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(name.to_string());
    bar
}
