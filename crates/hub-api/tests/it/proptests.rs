//! Arbitrary input to the parsers of what a server sends (`Link`, `ETag`, LFS
//! actions) and of the proxy settings: nothing panics, nothing secret shows.

use std::collections::BTreeMap;

use hub_api::{HubClientBuilder, LfsAction, next_link, normalize_etag};
use hub_url::HubConfig;
use proptest::prelude::*;

/// Header-like text: printable, any `char`, and the pieces these headers are made of.
fn header_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "<",
        ">",
        ";",
        ",",
        "=",
        "\"",
        " ",
        "rel",
        "next",
        "rel=\"next\"",
        "rel=next",
        "W/",
        "https://h/x?a=1",
        "é",
        "\0",
    ]);
    prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
        prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat()),
    ]
}

/// One `Link` entry: a URL and its `rel`, written in one of the ways servers write it.
fn link() -> impl Strategy<Value = (String, String, String)> {
    let url = "https://hub\\.example/api/models\\?[a-zA-Z0-9=&._~%-]{0,24}";
    let rel = prop::sample::select(vec!["next", "prev", "last", "first"]);
    let spacing = prop::sample::select(vec![";", "; ", " ;", " ; "]);
    (url, rel, spacing).prop_map(|(url, rel, spacing)| {
        let entry = format!("<{url}>{spacing}rel=\"{rel}\"");
        (url, rel.to_owned(), entry)
    })
}

proptest! {
    #[test]
    fn link_headers_never_panic(header in header_text()) {
        if let Some(url) = next_link(&header) {
            prop_assert!(header.contains(&url), "{:?} from {:?}", url, header);
        }
    }

    #[test]
    fn the_next_link_is_found_among_others(links in prop::collection::vec(link(), 0..5), separator in ", ?") {
        let header = links.iter().map(|(_, _, entry)| entry.as_str()).collect::<Vec<_>>().join(&separator);
        let expected = links.iter().find(|(_, rel, _)| rel == "next").map(|(url, _, _)| url.clone());
        prop_assert_eq!(next_link(&header), expected, "{}", header);
    }

    #[test]
    fn etags_never_panic(etag in header_text()) {
        let normalized = normalize_etag(&etag);
        prop_assert!(etag.contains(&normalized), "{:?} from {:?}", normalized, etag);
    }

    #[test]
    fn quoted_and_weak_etags_give_the_id(id in "[0-9a-f]{40}|[0-9a-f]{64}", form in 0..4usize, pad in "[ \t]{0,2}") {
        let written = match form {
            0 => id.clone(),
            1 => format!("\"{id}\""),
            2 => format!("W/\"{id}\""),
            _ => format!("W/{id}"),
        };
        prop_assert_eq!(normalize_etag(&format!("{pad}{written}{pad}")), id);
    }

    #[test]
    fn lfs_actions_give_parts_in_numeric_order(
        header in prop::collection::btree_map(
            prop_oneof!["[0-9]{1,6}", "chunk_size", header_text()],
            prop_oneof![
                "https://part/[0-9]{1,3}".prop_map(serde_json::Value::from),
                any::<u64>().prop_map(serde_json::Value::from),
                any::<i64>().prop_map(|n| serde_json::Value::from(n.to_string())),
            ],
            0..8,
        ),
    ) {
        let action = LfsAction::new("https://complete", header.clone());
        let _ = action.chunk_size();
        let urls = action.part_urls();
        let mut numbered: Vec<(u64, String)> = header
            .iter()
            .filter_map(|(k, v)| Some((k.parse::<u64>().ok()?, v.as_str()?.to_owned())))
            .collect();
        numbered.sort_by_key(|(n, _)| *n);
        prop_assert_eq!(urls, numbered.into_iter().map(|(_, url)| url).collect::<Vec<_>>());
    }

    #[test]
    fn lfs_actions_from_any_json_never_panic(json in header_text()) {
        if let Ok(action) = serde_json::from_str::<LfsAction>(&json) {
            let _ = (action.chunk_size(), action.part_urls());
        }
    }
}

proptest! {
    // Each case builds a client (an agent and its TLS settings): fewer cases.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn proxy_settings_never_panic_nor_show_a_password(
        scheme in prop::sample::select(vec!["http", "https", "socks4", "socks5", "ftp", ""]),
        password in "[A-Za-z0-9]{12,20}",
        host in prop_oneof!["[a-z]{1,8}", header_text()],
        port in prop_oneof!["[0-9]{1,6}", header_text()],
        no_proxy in header_text(),
    ) {
        let url = format!("{scheme}://user:{password}@{host}:{port}");
        let vars = BTreeMap::from([("HTTPS_PROXY", url.clone()), ("NO_PROXY", no_proxy)]);
        let Ok(config) = HubConfig::from_vars(|name| vars.get(name).cloned()) else { return Ok(()) };
        if let Err(e) = HubClientBuilder::from_config(&config).and_then(HubClientBuilder::build) {
            let shown = format!("{e} {e:?}");
            prop_assert!(!shown.contains(&password), "{}", shown);
        }
    }
}
