//! The kind of a repository: model, dataset or space.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The kind of a Hub repository. Models are the default, as on the Hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RepoType {
    /// A model repository, at `{endpoint}/{repo}`.
    #[default]
    Model,
    /// A dataset repository, at `{endpoint}/datasets/{repo}`.
    Dataset,
    /// A Space, at `{endpoint}/spaces/{repo}`.
    Space,
}

impl RepoType {
    /// Every repo type, models first.
    pub const ALL: [RepoType; 3] = [RepoType::Model, RepoType::Dataset, RepoType::Space];

    /// The singular name the Hub's JSON bodies use: `"model"`, `"dataset"` or `"space"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RepoType::Model => "model",
            RepoType::Dataset => "dataset",
            RepoType::Space => "space",
        }
    }

    /// The plural name: the API path segment (`/api/models/…`) and the cache folder prefix
    /// (`models--org--name`).
    pub fn plural(self) -> &'static str {
        match self {
            RepoType::Model => "models",
            RepoType::Dataset => "datasets",
            RepoType::Space => "spaces",
        }
    }

    /// What goes between the endpoint and the repo id in web and resolve URLs: nothing for
    /// models, `"datasets/"` or `"spaces/"` otherwise.
    pub fn url_prefix(self) -> &'static str {
        match self {
            RepoType::Model => "",
            RepoType::Dataset => "datasets/",
            RepoType::Space => "spaces/",
        }
    }
}

impl FromStr for RepoType {
    type Err = Error;

    /// Accepts the singular and the plural name, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RepoType::ALL
            .into_iter()
            .find(|t| s.eq_ignore_ascii_case(t.as_str()) || s.eq_ignore_ascii_case(t.plural()))
            .ok_or_else(|| Error::InvalidRepoType { input: s.to_owned() })
    }
}

impl fmt::Display for RepoType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_hub() {
        let names: Vec<_> = RepoType::ALL
            .iter()
            .map(|t| (t.as_str(), t.plural(), t.url_prefix()))
            .collect();
        assert_eq!(
            names,
            [
                ("model", "models", ""),
                ("dataset", "datasets", "datasets/"),
                ("space", "spaces", "spaces/")
            ]
        );
        assert_eq!(RepoType::default(), RepoType::Model);
        assert_eq!(RepoType::Dataset.to_string(), "dataset");
    }

    #[test]
    fn parses_singular_and_plural_in_any_case() -> Result<(), Error> {
        for (input, expected) in [
            ("model", RepoType::Model),
            ("models", RepoType::Model),
            ("MODEL", RepoType::Model),
            ("dataset", RepoType::Dataset),
            ("Datasets", RepoType::Dataset),
            ("space", RepoType::Space),
            ("SPACES", RepoType::Space),
        ] {
            assert_eq!(input.parse::<RepoType>()?, expected, "{input}");
        }
        Ok(())
    }

    #[test]
    fn display_round_trips() -> Result<(), Error> {
        for t in RepoType::ALL {
            assert_eq!(t.to_string().parse::<RepoType>()?, t);
        }
        Ok(())
    }

    #[test]
    fn rejects_unknown_types_listing_the_allowed_ones() {
        for input in ["", "kernel", "modell", " model", "data-set"] {
            let err = input.parse::<RepoType>().err().map(|e| e.to_string());
            let expected =
                format!("invalid repo type {input:?}: expected \"model\", \"dataset\" or \"space\" (or their plurals)");
            assert_eq!(err.as_deref(), Some(expected.as_str()));
        }
    }
}
