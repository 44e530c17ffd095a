//! `hf_hub_url` against the Python client's own output.

use hub_url::{Endpoint, RepoId, RepoType, Result, Revision, hf_hub_url};

struct Case {
    repo: &'static str,
    filename: &'static str,
    revision: Option<&'static str>,
    repo_type: RepoType,
    endpoint: Option<&'static str>,
    expected: &'static str,
}

/// Every `expected` URL was printed by `huggingface_hub.hf_hub_url` 2.4.0 for the same
/// arguments; a `None` endpoint is the default Hub.
#[rustfmt::skip]
const CASES: &[Case] = &[
    Case { repo: "gpt2", filename: "config.json", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/gpt2/resolve/main/config.json" },
    Case { repo: "org/name", filename: "config.json", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/config.json" },
    Case { repo: "org/name", filename: "config.json", revision: Some("main"), repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/config.json" },
    Case { repo: "org/name", filename: "data/train.csv", revision: None, repo_type: RepoType::Dataset, endpoint: None, expected: "https://huggingface.co/datasets/org/name/resolve/main/data/train.csv" },
    Case { repo: "org/name", filename: "app.py", revision: None, repo_type: RepoType::Space, endpoint: None, expected: "https://huggingface.co/spaces/org/name/resolve/main/app.py" },
    Case { repo: "org/name", filename: "a/b/c/d.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/a/b/c/d.txt" },
    Case { repo: "org/name", filename: "my file.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/my%20file.txt" },
    Case { repo: "org/name", filename: "dir with space/file name.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/dir%20with%20space/file%20name.txt" },
    Case { repo: "org/name", filename: "café.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/caf%C3%A9.txt" },
    Case { repo: "org/name", filename: "日本/語.bin", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/%E6%97%A5%E6%9C%AC/%E8%AA%9E.bin" },
    Case { repo: "org/name", filename: "a#b.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/a%23b.txt" },
    Case { repo: "org/name", filename: "what?.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/what%3F.txt" },
    Case { repo: "org/name", filename: "100%.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/100%25.txt" },
    Case { repo: "org/name", filename: "a+b.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/a%2Bb.txt" },
    Case { repo: "org/name", filename: "a&b=c.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/a%26b%3Dc.txt" },
    Case { repo: "org/name", filename: "~tilde_-.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/~tilde_-.txt" },
    Case { repo: "org/name", filename: "config.json", revision: Some("refs/pr/1"), repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/refs%2Fpr%2F1/config.json" },
    Case { repo: "org/name", filename: "config.json", revision: Some("feature/x"), repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/feature%2Fx/config.json" },
    Case { repo: "org/name", filename: "config.json", revision: Some("0123456789abcdef0123456789abcdef01234567"), repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/0123456789abcdef0123456789abcdef01234567/config.json" },
    Case { repo: "org/name", filename: "config.json", revision: Some("v1.0"), repo_type: RepoType::Dataset, endpoint: None, expected: "https://huggingface.co/datasets/org/name/resolve/v1.0/config.json" },
    Case { repo: "org/name", filename: "config.json", revision: Some("refs/convert/parquet"), repo_type: RepoType::Dataset, endpoint: None, expected: "https://huggingface.co/datasets/org/name/resolve/refs%2Fconvert%2Fparquet/config.json" },
    Case { repo: "org/name", filename: "config.json", revision: Some("é"), repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/%C3%A9/config.json" },
    Case { repo: "org/name", filename: "config.json", revision: None, repo_type: RepoType::Model, endpoint: Some("http://127.0.0.1:8080"), expected: "http://127.0.0.1:8080/org/name/resolve/main/config.json" },
    Case { repo: "org/name", filename: "config.json", revision: Some("refs/pr/7"), repo_type: RepoType::Space, endpoint: Some("https://hub.example.com"), expected: "https://hub.example.com/spaces/org/name/resolve/refs%2Fpr%2F7/config.json" },
    Case { repo: "org/name", filename: "sub/folder/model.safetensors", revision: None, repo_type: RepoType::Model, endpoint: Some("http://localhost:1234"), expected: "http://localhost:1234/org/name/resolve/main/sub/folder/model.safetensors" },
    Case { repo: "org/name", filename: ".gitattributes", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/.gitattributes" },
    Case { repo: "org/name", filename: "a:b;c,d.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/a%3Ab%3Bc%2Cd.txt" },
    Case { repo: "org/name", filename: "quote'\"<>.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/quote%27%22%3C%3E.txt" },
    Case { repo: "org/name", filename: "back\\slash.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/back%5Cslash.txt" },
    Case { repo: "org/name", filename: "brackets[1]{2}.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/brackets%5B1%5D%7B2%7D.txt" },
    Case { repo: "org/name", filename: "at@dollar$.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/at%40dollar%24.txt" },
    Case { repo: "org/name", filename: "emoji🤗.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/emoji%F0%9F%A4%97.txt" },
    Case { repo: "org/name", filename: "a//b.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/a//b.txt" },
    Case { repo: "org/name", filename: "/leading.txt", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main//leading.txt" },
    Case { repo: "user_1/Model-Name.v2", filename: "pytorch_model.bin", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/user_1/Model-Name.v2/resolve/main/pytorch_model.bin" },
    Case { repo: "Dataset_Only", filename: "README.md", revision: Some("main"), repo_type: RepoType::Dataset, endpoint: None, expected: "https://huggingface.co/datasets/Dataset_Only/resolve/main/README.md" },
    // Python: hf_hub_url("org/name", "model.bin", subfolder="sub dir/x").
    Case { repo: "org/name", filename: "sub dir/x/model.bin", revision: None, repo_type: RepoType::Model, endpoint: None, expected: "https://huggingface.co/org/name/resolve/main/sub%20dir/x/model.bin" },
    // Endpoints with trailing slashes: the Python client strips them when it reads
    // `HF_ENDPOINT`, and these URLs were printed with `HF_ENDPOINT` set so.
    Case { repo: "org/name", filename: "x/y z.txt", revision: Some("refs/pr/2"), repo_type: RepoType::Dataset, endpoint: Some("http://127.0.0.1:9999/"), expected: "http://127.0.0.1:9999/datasets/org/name/resolve/refs%2Fpr%2F2/x/y%20z.txt" },
    Case { repo: "gpt2", filename: "model.bin", revision: None, repo_type: RepoType::Model, endpoint: Some("http://127.0.0.1:9999/"), expected: "http://127.0.0.1:9999/gpt2/resolve/main/model.bin" },
    Case { repo: "org/name", filename: "x/y z.txt", revision: Some("refs/pr/2"), repo_type: RepoType::Dataset, endpoint: Some("https://mirror.example.org/hub//"), expected: "https://mirror.example.org/hub/datasets/org/name/resolve/refs%2Fpr%2F2/x/y%20z.txt" },
    Case { repo: "gpt2", filename: "model.bin", revision: None, repo_type: RepoType::Model, endpoint: Some("https://mirror.example.org/hub//"), expected: "https://mirror.example.org/hub/gpt2/resolve/main/model.bin" },
];

#[test]
fn matches_the_python_client() -> Result<()> {
    assert!(CASES.len() >= 30);
    for case in CASES {
        let repo = RepoId::new(case.repo)?;
        let revision = case.revision.map(Revision::new).transpose()?.unwrap_or_default();
        let endpoint = case.endpoint.map_or(Ok(Endpoint::default()), Endpoint::new)?;
        let url = hf_hub_url(&repo, case.filename, &revision, case.repo_type, &endpoint);
        assert_eq!(
            url, case.expected,
            "{} {:?} at {:?}",
            case.repo, case.filename, case.revision
        );
    }
    Ok(())
}

/// The Python client's `endpoint=` argument is pasted as is, so `"http://host/"` gives
/// `http://host//org/name/…`; an `Endpoint` never ends with `/`, so the URL stays clean.
#[test]
fn an_endpoint_with_a_trailing_slash_gives_no_double_slash() -> Result<()> {
    let url = hf_hub_url(
        &RepoId::new("org/name")?,
        "f.txt",
        &Revision::main(),
        RepoType::Model,
        &Endpoint::new("http://127.0.0.1:9999/")?,
    );
    assert_eq!(url, "http://127.0.0.1:9999/org/name/resolve/main/f.txt");
    Ok(())
}

#[test]
fn resolve_urls_start_with_the_repo_url() -> Result<()> {
    let endpoint = Endpoint::new("http://localhost:1234")?;
    let repo = RepoId::new("org/name")?;
    for repo_type in RepoType::ALL {
        let url = hf_hub_url(&repo, "a b/c.txt", &Revision::new("v1")?, repo_type, &endpoint);
        assert_eq!(
            url,
            format!("{}/resolve/v1/a%20b/c.txt", endpoint.repo_url(repo_type, &repo))
        );
    }
    Ok(())
}
