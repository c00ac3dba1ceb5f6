//! What several outputs and sources share to reach the network: the wait
//! between reconnects ([`backoff`]) and TLS from PEM files ([`tls`]).

pub mod backoff;
pub mod tls;
