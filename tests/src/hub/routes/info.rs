//! `GET /api/{type}/{repo}[/revision/{rev}]`: a repo's info, and the JSON shape shared
//! with listings.

use serde_json::{Map, Value, json};

use super::{Caller, Hub, RepoKey, Request, Response, flag, internal_error, open_repo, resolve_revision};
use crate::hub::clock;
use crate::hub::lfs_store::hex;
use crate::hub::repo_id::RepoType;
use crate::hub::repos::RepoMeta;
use crate::hub::snapshot::Snapshot;

/// Tags that name the library a model is for.
const LIBRARIES: &[&str] = &[
    "transformers",
    "diffusers",
    "sentence-transformers",
    "timm",
    "peft",
    "adapter-transformers",
    "flair",
    "spacy",
    "keras",
    "tf-keras",
    "sklearn",
    "scikit-learn",
    "fastai",
    "flax",
    "onnx",
    "gguf",
    "mlx",
    "open_clip",
    "span-marker",
    "setfit",
    "stable-baselines3",
    "ml-agents",
    "espnet",
    "speechbrain",
    "nemo",
    "fairseq",
    "asteroid",
    "allennlp",
    "pyannote-audio",
    "paddlenlp",
    "transformers.js",
    "safetensors",
    "pytorch",
    "tensorflow",
    "jax",
];

/// Tags that name a task (`pipeline_tag`).
const PIPELINES: &[&str] = &[
    "text-generation",
    "text-classification",
    "token-classification",
    "fill-mask",
    "question-answering",
    "summarization",
    "translation",
    "text2text-generation",
    "feature-extraction",
    "sentence-similarity",
    "zero-shot-classification",
    "image-classification",
    "object-detection",
    "image-segmentation",
    "text-to-image",
    "image-to-text",
    "image-to-image",
    "automatic-speech-recognition",
    "audio-classification",
    "text-to-speech",
    "text-to-audio",
    "conversational",
    "image-text-to-text",
    "visual-question-answering",
    "depth-estimation",
    "video-classification",
    "reinforcement-learning",
    "tabular-classification",
    "tabular-regression",
];

/// The library a model's tags name: `library:x` first, else the known library listed
/// first (`transformers` before `pytorch`).
pub(super) fn library_name(tags: &[String]) -> Option<&str> {
    tags.iter()
        .find_map(|t| t.strip_prefix("library:"))
        .or_else(|| LIBRARIES.iter().copied().find(|lib| tags.iter().any(|t| t == lib)))
}

/// The task a model's tags name.
pub(super) fn pipeline_tag(tags: &[String]) -> Option<&str> {
    tags.iter()
        .find_map(|t| t.strip_prefix("pipeline_tag:"))
        .or_else(|| tags.iter().map(String::as_str).find(|t| PIPELINES.contains(t)))
}

/// How much of a repo's JSON to write.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Detail {
    /// Add `siblings`, `sha`, `lastModified` and the other per-commit fields.
    pub(super) full: bool,
    /// Add `size`, `blobId` and `lfs` to siblings.
    pub(super) blobs: bool,
    /// Add `trendingScore` (listings do, info does not).
    pub(super) trending: bool,
}

/// A Mongo-style id, stable for a repo.
pub(super) fn object_id(key: &RepoKey) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}/{}", key.repo_type.singular(), key.repo_id));
    hex(&digest[..12])
}

/// The JSON the Hub sends for a repo; `snapshot` is the commit reported in full detail.
pub(super) fn repo_json(key: &RepoKey, meta: &RepoMeta, snapshot: Option<&Snapshot>, detail: Detail) -> Value {
    let mut obj = Map::new();
    obj.insert("_id".into(), json!(object_id(key)));
    obj.insert("id".into(), json!(key.repo_id));
    if key.repo_type == RepoType::Model {
        obj.insert("modelId".into(), json!(key.repo_id));
    }
    if let Some(owner) = &meta.owner {
        obj.insert("author".into(), json!(owner));
    }
    obj.insert("private".into(), json!(meta.private));
    obj.insert("downloads".into(), json!(meta.downloads));
    obj.insert("likes".into(), json!(meta.likes));
    if detail.trending {
        obj.insert("trendingScore".into(), json!(0));
    }
    obj.insert("tags".into(), json!(meta.tags));
    if key.repo_type == RepoType::Model {
        if let Some(pipeline) = pipeline_tag(&meta.tags) {
            obj.insert("pipeline_tag".into(), json!(pipeline));
        }
        if let Some(library) = library_name(&meta.tags) {
            obj.insert("library_name".into(), json!(library));
        }
    }
    obj.insert("createdAt".into(), json!(meta.created_at));
    if key.repo_type == RepoType::Space {
        obj.insert("sdk".into(), json!(meta.sdk.as_deref().unwrap_or("static")));
        obj.insert(
            "subdomain".into(),
            json!(key.repo_id.replace(['/', '_', '.'], "-").to_lowercase()),
        );
    }
    if detail.full {
        obj.insert("gated".into(), meta.gated.as_ref().map_or(json!(false), |g| json!(g)));
        obj.insert("disabled".into(), json!(meta.disabled));
        if let Some(snapshot) = snapshot {
            obj.insert("sha".into(), json!(snapshot.commit));
            obj.insert(
                "lastModified".into(),
                json!(clock::iso8601(snapshot.committed_at_millis)),
            );
            obj.insert("siblings".into(), Value::Array(siblings(snapshot, detail.blobs)));
            obj.insert("usedStorage".into(), json!(snapshot.total_size()));
        }
    }
    Value::Object(obj)
}

fn siblings(snapshot: &Snapshot, blobs: bool) -> Vec<Value> {
    snapshot
        .files()
        .map(|entry| {
            let mut sibling = Map::new();
            sibling.insert("rfilename".into(), json!(entry.path));
            if blobs {
                sibling.insert("size".into(), json!(entry.size()));
                sibling.insert("blobId".into(), json!(entry.oid));
                if let Some(lfs) = entry.lfs() {
                    sibling.insert(
                        "lfs".into(),
                        json!({ "size": lfs.size, "sha256": lfs.oid, "pointerSize": lfs.pointer_size }),
                    );
                }
            }
            Value::Object(sibling)
        })
        .collect()
}

/// Answers an info request. Gated repos answer too: only their content is restricted.
pub(super) fn info(
    hub: &Hub,
    request: &Request,
    caller: Caller<'_>,
    key: &RepoKey,
    revision: Option<&str>,
) -> Response {
    let answer = || -> Result<Response, Response> {
        let repo = open_repo(hub, caller, key)?;
        let commit = resolve_revision(hub, key, revision.unwrap_or("main"))?;
        let snapshot = hub.snapshot(key, &commit).map_err(|e| internal_error(&e))?;
        let detail = Detail {
            full: true,
            blobs: flag(request, "blobs"),
            trending: false,
        };
        Ok(Response::json(
            200,
            &repo_json(key, &repo.meta, Some(&snapshot), detail),
        ))
    };
    answer().unwrap_or_else(|refused| refused)
}

#[cfg(test)]
mod tests {
    use super::{library_name, pipeline_tag};

    #[test]
    fn library_and_pipeline_come_from_tags() {
        let tags: Vec<String> = ["pytorch", "transformers", "text-generation", "license:mit"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(library_name(&tags), Some("transformers"));
        assert_eq!(pipeline_tag(&tags), Some("text-generation"));
        let explicit = vec!["library:my-lib".to_string()];
        assert_eq!(library_name(&explicit), Some("my-lib"));
        assert_eq!(pipeline_tag(&explicit), None);
    }
}
