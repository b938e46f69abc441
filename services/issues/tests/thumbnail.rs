//! Thumbnails: every supported format gets one of at most 256 px a side with its aspect ratio
//! kept; images over the pixel limit (a decompression bomb's header included) are refused before
//! decoding; what is not an image, or is cut short, is refused as undecodable.

use std::io::Cursor;

use image::{ImageFormat, RgbImage, RgbaImage};
use swatter_issues::thumbnail::{Refused, THUMBNAIL_SIDE, make};

const MAX_PIXELS: u64 = 40_000_000;

fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut cursor = Cursor::new(&mut bytes);
    if format == ImageFormat::Jpeg {
        RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 128]))
            .write_to(&mut cursor, format)
            .unwrap();
    } else {
        RgbaImage::from_fn(width, height, |x, y| {
            image::Rgba([x as u8, y as u8, 128, 255])
        })
        .write_to(&mut cursor, format)
        .unwrap();
    }
    bytes
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A valid small PNG whose header claims `width`×`height` (its IHDR rewritten, CRC fixed): what a
/// decompression bomb looks like before decoding.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = encoded(1, 1, ImageFormat::Png);
    // Signature (8), IHDR length (4), "IHDR" (4), width, height…
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

#[test]
fn every_supported_format_gets_a_png_thumbnail_keeping_its_aspect_ratio() {
    for format in [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Gif,
        ImageFormat::WebP,
    ] {
        let thumbnail = make(&encoded(800, 400, format), MAX_PIXELS)
            .unwrap_or_else(|refused| panic!("{format:?}: {refused}"));
        assert_eq!(
            (thumbnail.width, thumbnail.height),
            (THUMBNAIL_SIDE, THUMBNAIL_SIDE / 2),
            "{format:?}"
        );
        let decoded = image::load_from_memory_with_format(&thumbnail.png, ImageFormat::Png)
            .expect("the thumbnail is a PNG");
        assert_eq!((decoded.width(), decoded.height()), (256, 128));
    }
}

#[test]
fn a_small_image_is_not_enlarged() {
    let thumbnail = make(&encoded(40, 30, ImageFormat::Png), MAX_PIXELS).unwrap();
    assert_eq!((thumbnail.width, thumbnail.height), (40, 30));
}

#[test]
fn a_decompression_bombs_header_is_refused_before_decoding() {
    let bomb = png_claiming(100_000, 100_000);
    assert!(bomb.len() < 100, "the bomb is a few bytes");
    assert_eq!(
        make(&bomb, MAX_PIXELS),
        Err(Refused::TooLarge {
            width: 100_000,
            height: 100_000,
            max_pixels: MAX_PIXELS
        })
    );
}

#[test]
fn an_image_over_the_configured_pixels_is_refused() {
    let image = encoded(2000, 1000, ImageFormat::Png);
    assert_eq!(
        make(&image, 1_000_000),
        Err(Refused::TooLarge {
            width: 2000,
            height: 1000,
            max_pixels: 1_000_000
        })
    );
    assert!(make(&image, 2_000_000).is_ok());
}

#[test]
fn a_header_within_the_limit_over_missing_pixels_is_refused_as_undecodable() {
    // 4000×4000 announced (allowed), one pixel of data: the decoder fails, nothing is rendered.
    assert!(matches!(
        make(&png_claiming(4000, 4000), MAX_PIXELS),
        Err(Refused::Undecodable(_))
    ));
}

#[test]
fn what_is_not_an_image_or_is_cut_short_is_undecodable() {
    assert!(matches!(
        make(b"%PDF-1.7 not an image", MAX_PIXELS),
        Err(Refused::Undecodable(_))
    ));
    let png = encoded(300, 300, ImageFormat::Png);
    assert!(matches!(
        make(&png[..png.len() / 2], MAX_PIXELS),
        Err(Refused::Undecodable(_))
    ));
}
