//! The benchmark runner: builds the client / lb / server namespaces, runs Clearway, HAProxy
//! and the direct path alternately under the same load, and reports medians side by side.
//! A tool, not part of the product: it may use the test kit.

pub mod lab;
pub mod load;
pub mod proxy;
pub mod report;
pub mod run;
