//! The pure core: no I/O and no framework types. For now it holds the failure classes every
//! boundary maps its errors to; orders, money and mapping arrive with the pipeline.

mod failure;

pub use failure::ErrorClass;
