//! Thumbnails of image attachments: a PNG whose longest side is at most [`THUMBNAIL_SIDE`]
//! pixels. Decoding is bounded before it starts: an image whose header announces more than the
//! allowed pixels, or whose decoding would allocate more than allowed (a decompression bomb), is
//! refused, never rendered. CPU-bound: call it in `spawn_blocking`.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

/// Longest side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 256;

/// Memory a decoder may take beyond the pixels themselves (palettes, rows, metadata).
const DECODER_SLACK_BYTES: u64 = 16 * 1024 * 1024;

/// A thumbnail, PNG-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Why an image gets no thumbnail.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("the image is {width}×{height} pixels, more than the {max_pixels} allowed")]
    TooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    #[error("the image cannot be decoded: {0}")]
    Undecodable(String),
}

/// The thumbnail of `content` (PNG, JPEG, GIF or WebP), or why there is none.
///
/// The header is read first: more than `max_pixels` is refused before any pixel is decoded. The
/// decoder then runs with limits on each side and on what it may allocate (4 bytes per allowed
/// pixel and some slack), so a header that lies cannot make it allocate more.
pub fn make(content: &[u8], max_pixels: u64) -> Result<Thumbnail, Refused> {
    let undecodable = |error: image::ImageError| Refused::Undecodable(error.to_string());
    let (width, height) = reader(content, max_pixels)?
        .into_dimensions()
        .map_err(undecodable)?;
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(Refused::TooLarge {
            width,
            height,
            max_pixels,
        });
    }
    let image = reader(content, max_pixels)?
        .decode()
        .map_err(|error| match error {
            image::ImageError::Limits(_) => Refused::TooLarge {
                width,
                height,
                max_pixels,
            },
            other => undecodable(other),
        })?;
    // Never enlarged: an image already small enough keeps its size (re-encoded as PNG).
    let small = if width <= THUMBNAIL_SIDE && height <= THUMBNAIL_SIDE {
        image
    } else {
        image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    };
    let mut png = Vec::new();
    small
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(undecodable)?;
    Ok(Thumbnail {
        png,
        width: small.width(),
        height: small.height(),
    })
}

/// A reader of `content` in the format its first bytes name, with the decoding limits.
fn reader(content: &[u8], max_pixels: u64) -> Result<ImageReader<Cursor<&[u8]>>, Refused> {
    let mut reader = ImageReader::new(Cursor::new(content))
        .with_guessed_format()
        .map_err(|error| Refused::Undecodable(error.to_string()))?;
    if reader.format().is_none() {
        return Err(Refused::Undecodable("not an image format".to_owned()));
    }
    let side = u32::try_from(max_pixels).unwrap_or(u32::MAX);
    let mut limits = Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(
        max_pixels
            .saturating_mul(4)
            .saturating_add(DECODER_SLACK_BYTES),
    );
    reader.limits(limits);
    Ok(reader)
}
