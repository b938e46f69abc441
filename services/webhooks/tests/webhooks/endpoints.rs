//! Registering and managing endpoints: the API, its permissions and its bad input.

use prost_types::FieldMask;
use swatter_proto::{issues::v1 as ipb, webhooks::v1 as pb};
use swatter_testkit::{fields, req};
use tonic::Code;

use crate::support::TestApp;

#[tokio::test]
async fn an_owner_registers_reads_updates_rotates_and_deletes_an_endpoint() {
    let app = TestApp::start("HOOK").await;
    let mut client = app.client();

    let created = app
        .endpoint("HOOK", "https://hooks.example.com/in", &["issue.created"])
        .await;
    let endpoint = created.endpoint.unwrap();
    assert!(created.secret.starts_with("whsec_"));
    assert_eq!(endpoint.project_key, "HOOK");
    assert_eq!(endpoint.event_types, ["issue.created"]);
    assert!(endpoint.active);
    assert_eq!(endpoint.created_by, app.owner.id);

    let listed = client
        .list_endpoints(req(
            pb::ListEndpointsRequest {
                project_key: "HOOK".into(),
                ..Default::default()
            },
            &app.owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.endpoints, std::slice::from_ref(&endpoint));

    let updated = client
        .update_endpoint(req(
            pb::UpdateEndpointRequest {
                id: endpoint.id.clone(),
                description: Some("CI bot".into()),
                update_mask: Some(FieldMask {
                    paths: vec!["description".into(), "event_types".into()],
                }),
                ..Default::default()
            },
            &app.owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.description, "CI bot");
    assert!(
        updated.event_types.is_empty(),
        "a masked empty list means every type"
    );
    assert_eq!(updated.url, endpoint.url);

    let rotated = client
        .rotate_endpoint_secret(req(
            pb::RotateEndpointSecretRequest {
                id: endpoint.id.clone(),
                overlap_seconds: Some(3600),
            },
            &app.owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(rotated.secret, created.secret);
    assert!(
        rotated
            .endpoint
            .unwrap()
            .previous_secret_expires_at
            .is_some()
    );

    client
        .delete_endpoint(req(
            pb::DeleteEndpointRequest {
                id: endpoint.id.clone(),
            },
            &app.owner,
        ))
        .await
        .unwrap();
    let gone = client
        .get_endpoint(req(pb::GetEndpointRequest { id: endpoint.id }, &app.owner))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test]
async fn a_create_with_the_same_request_id_replays_the_first_answer() {
    let app = TestApp::start("IDEM").await;
    let request = || {
        req(
            pb::CreateEndpointRequest {
                project_key: "IDEM".into(),
                url: "https://hooks.example.com/".into(),
                request_id: "create-once".into(),
                ..Default::default()
            },
            &app.owner,
        )
    };
    let first = app.client().create_endpoint(request()).await.unwrap();
    let second = app.client().create_endpoint(request()).await.unwrap();
    assert_eq!(first.into_inner(), second.into_inner());
}

#[tokio::test]
async fn only_owners_and_admins_manage_endpoints_and_outsiders_see_nothing() {
    let app = TestApp::start("PERM").await;
    let endpoint = app
        .endpoint("PERM", "https://hooks.example.com/", &[])
        .await
        .endpoint
        .unwrap();
    let maintainer = app
        .member("PERM", "maintainer", ipb::Role::Maintainer)
        .await;
    let outsider = app.identity().user("outsider").await;
    let admin = app.identity().admin().await;
    let mut client = app.client();

    let create = |user| {
        req(
            pb::CreateEndpointRequest {
                project_key: "PERM".into(),
                url: "https://hooks.example.com/other".into(),
                ..Default::default()
            },
            user,
        )
    };
    let refused = client
        .create_endpoint(create(&maintainer))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let hidden = client.create_endpoint(create(&outsider)).await.unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    client.create_endpoint(create(&admin)).await.unwrap();

    let get = |user| {
        req(
            pb::GetEndpointRequest {
                id: endpoint.id.clone(),
            },
            user,
        )
    };
    assert_eq!(
        client
            .get_endpoint(get(&maintainer))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert_eq!(
        client
            .get_endpoint(get(&outsider))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        client
            .get_endpoint(get(&admin))
            .await
            .unwrap()
            .into_inner()
            .id,
        endpoint.id
    );
    let deliveries = client
        .list_deliveries(req(
            pb::ListDeliveriesRequest {
                endpoint_id: endpoint.id.clone(),
                ..Default::default()
            },
            &outsider,
        ))
        .await
        .unwrap_err();
    assert_eq!(deliveries.code(), Code::NotFound);
    let anonymous = client
        .list_event_types(pb::ListEventTypesRequest {})
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn bad_urls_and_unknown_event_types_are_refused_naming_the_field() {
    let app = TestApp::start("BAD").await;
    let mut client = app.client();
    let create = |url: &str, types: &[&str], description: &str| {
        req(
            pb::CreateEndpointRequest {
                project_key: "BAD".into(),
                url: url.into(),
                event_types: types.iter().map(|t| (*t).to_owned()).collect(),
                description: description.into(),
                ..Default::default()
            },
            &app.owner,
        )
    };
    for (url, types, description, want) in [
        ("ftp://example.com/", &[][..], "", vec!["url"]),
        ("https://u:p@example.com/", &[], "", vec!["url"]),
        ("https://example.com/#x", &[], "", vec!["url"]),
        (
            "http://169.254.169.254/latest/meta-data/",
            &[],
            "",
            vec!["url"],
        ),
        ("http://10.0.0.8/", &[], "", vec!["url"]),
        ("http://[fd00:ec2::254]/", &[], "", vec!["url"]),
        (
            "https://example.com/",
            &["issue.exploded"],
            "",
            vec!["event_types"],
        ),
        (
            "",
            &["nope"],
            &"d".repeat(201),
            vec!["description", "event_types", "url"],
        ),
    ] {
        let status = client
            .create_endpoint(create(url, types, description))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{url}");
        assert_eq!(fields(&status), want, "{url}");
    }
    let long = format!("https://example.com/{}", "a".repeat(2000));
    let status = client
        .create_endpoint(create(&long, &[], ""))
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["url"]);

    let endpoint = app
        .endpoint("BAD", "https://example.com/", &[])
        .await
        .endpoint
        .unwrap();
    let status = client
        .update_endpoint(req(
            pb::UpdateEndpointRequest {
                id: endpoint.id.clone(),
                url: Some("http://192.168.1.1/".into()),
                ..Default::default()
            },
            &app.owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["url"]);
    let status = client
        .rotate_endpoint_secret(req(
            pb::RotateEndpointSecretRequest {
                id: endpoint.id,
                overlap_seconds: Some(8 * 24 * 3600),
            },
            &app.owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["overlap_seconds"]);
}

#[tokio::test]
async fn the_event_types_are_listed_with_their_meaning() {
    let app = TestApp::start("TYPES").await;
    let types = app
        .client()
        .list_event_types(req(pb::ListEventTypesRequest {}, &app.owner))
        .await
        .unwrap()
        .into_inner()
        .event_types;
    let names: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
    for name in [
        "issue.created",
        "comment.deleted",
        "webhook.endpoint_disabled",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert!(types.iter().all(|t| !t.description.is_empty()));
}
