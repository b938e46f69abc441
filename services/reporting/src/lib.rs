//! swatter's reporting service: report generation, starting with the PDF typesetting in [`render`].

pub mod render;
