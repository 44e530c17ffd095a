//! `list_models`, `list_datasets`, `list_spaces`: searching the Hub.

use hub_url::{RepoType, encode_segment};

use crate::client::HubClient;
use crate::pagination::Paginated;
use crate::repo_info::RepoInfo;
use crate::target::RequestTarget;

/// The query of a listing. Empty fields are left out of the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListReposOptions {
    /// A substring of the repo id.
    pub search: Option<String>,
    /// The owner (user or organization).
    pub author: Option<String>,
    /// Tags that every result must have.
    pub filter: Vec<String>,
    /// The sort key: `downloads`, `likes`, `lastModified`, `createdAt`, `trendingScore`.
    pub sort: Option<String>,
    /// `-1` for descending order (the Hub's default for sorted listings).
    pub direction: Option<i32>,
    /// At most this many results; no page past them is fetched.
    pub limit: Option<usize>,
    /// Ask for each repo's files and last commit too.
    pub full: bool,
}

impl ListReposOptions {
    /// Only repos whose id contains this.
    pub fn search(mut self, search: impl Into<String>) -> Self {
        self.search = Some(search.into());
        self
    }

    /// Only repos of this owner.
    pub fn author(mut self, author: impl Into<String>) -> Self {
        self.author = Some(author.into());
        self
    }

    /// Only repos with this tag (adds to the tags already asked for).
    pub fn filter(mut self, tag: impl Into<String>) -> Self {
        self.filter.push(tag.into());
        self
    }

    /// The sort key and direction (`-1` for descending).
    pub fn sort(mut self, key: impl Into<String>, direction: i32) -> Self {
        self.sort = Some(key.into());
        self.direction = Some(direction);
        self
    }

    /// At most this many results.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Whether to ask for each repo's files and last commit too.
    pub fn full(mut self, full: bool) -> Self {
        self.full = full;
        self
    }

    fn query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(search) = &self.search {
            pairs.push(("search", search.clone()));
        }
        if let Some(author) = &self.author {
            pairs.push(("author", author.clone()));
        }
        for tag in &self.filter {
            pairs.push(("filter", tag.clone()));
        }
        if let Some(sort) = &self.sort {
            pairs.push(("sort", sort.clone()));
        }
        if let Some(direction) = self.direction {
            pairs.push(("direction", direction.to_string()));
        }
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        if self.full {
            pairs.push(("full", "True".to_string()));
        }
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", encode_segment(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

impl HubClient {
    /// Repos of a type matching the query, fetched page by page as the iterator advances.
    pub fn list_repos(&self, repo_type: RepoType, options: &ListReposOptions) -> Paginated<RepoInfo> {
        let mut url = format!("{}/api/{}", self.endpoint(), repo_type.plural());
        let query = options.query();
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        Paginated::new(self.clone(), url, RequestTarget::default(), options.limit)
    }

    /// Models matching the query.
    ///
    /// ```no_run
    /// use hub_api::{HubClient, ListReposOptions};
    /// use hub_url::HubConfig;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = HubConfig::from_env()?;
    /// let client = HubClient::from_config(&config)?;
    /// let options = ListReposOptions::default().author("google").search("bert").limit(10);
    /// for model in client.list_models(&options) {
    ///     println!("{}", model?.id);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn list_models(&self, options: &ListReposOptions) -> Paginated<RepoInfo> {
        self.list_repos(RepoType::Model, options)
    }

    /// Datasets matching the query.
    pub fn list_datasets(&self, options: &ListReposOptions) -> Paginated<RepoInfo> {
        self.list_repos(RepoType::Dataset, options)
    }

    /// Spaces matching the query.
    pub fn list_spaces(&self, options: &ListReposOptions) -> Paginated<RepoInfo> {
        self.list_repos(RepoType::Space, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_encodes_every_field() {
        let options = ListReposOptions {
            search: Some("bert base".into()),
            author: Some("google".into()),
            filter: vec!["pytorch".into(), "en".into()],
            sort: Some("downloads".into()),
            direction: Some(-1),
            limit: Some(5),
            full: true,
        };
        assert_eq!(
            options.query(),
            "search=bert%20base&author=google&filter=pytorch&filter=en&sort=downloads&direction=-1&limit=5&full=True"
        );
        assert_eq!(ListReposOptions::default().query(), "");
    }
}
