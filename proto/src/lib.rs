//! The gRPC contract of swatter, generated from `swatter/**/*.proto`.

/// Encoded `FileDescriptorSet` of every swatter package, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/swatter_descriptor.bin"));

pub mod identity {
    pub mod v1 {
        tonic::include_proto!("swatter.identity.v1");
    }
}

pub mod issues {
    pub mod v1 {
        tonic::include_proto!("swatter.issues.v1");
    }
}

pub mod reporting {
    pub mod v1 {
        tonic::include_proto!("swatter.reporting.v1");
    }
}

pub mod webhooks {
    pub mod v1 {
        tonic::include_proto!("swatter.webhooks.v1");
    }
}
