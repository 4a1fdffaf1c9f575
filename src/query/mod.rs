//! The query cache in the app: the client (adapter around core's state
//! machine) and the `use_query` hooks.

mod client;
mod hooks;
mod mutation;
pub mod persist;

pub use client::{
    now_ms, prefix, provide_query_client, use_query_client, ErasedFetcher, KeySignals, QueryClient,
    QueryData, QueryMeta,
};
pub use hooks::{use_query, use_query_with_options, Fetched, UseQueryOptions, UseQueryReturn};
pub use mutation::{use_mutation, Mutation, MutationOptions};
