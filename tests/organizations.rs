//! Organizations (#45, #47–#51, #59–#62, #67–#69): creation and import by
//! a service administrator, members and their roles, leaving and removal,
//! the last administrator, tokens that die with old privileges, the
//! SignalingEvents members hear, and hostname and membership uniqueness
//! under concurrency.

mod common;

use std::time::Duration;

use common::{TestApp, claims_of, error_code, token_of};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use skalio_id::accounts;
use skalio_id::admin::{self, AdminChange};
use skalio_id::event_store::RequestMeta;
use skalio_id_aggregates::organization::{Actor, OrganizationCommand, RemoveMember};

/// A verified person holding `Cluster.Admin`; returns their access token.
async fn cluster_admin(app: &TestApp) -> String {
    let (id_token, _) = app
        .verified_person("root@example.org", "CorrectHorse")
        .await;
    let uid = claims_of(&id_token)["sub"].as_str().unwrap().to_string();
    let change = AdminChange::ClusterRoles(vec!["Cluster.Admin".into()]);
    admin::apply(&app.running.as_ref().unwrap().state, &uid, change)
        .await
        .expect("grant Cluster.Admin");
    let id_token = token_of(app.login("root@example.org", "CorrectHorse").await).await;
    token_of(app.access(&id_token).await).await
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

async fn create(app: &TestApp, root: &str, body: Value) -> Response {
    send(app, "POST", "/id/v3/organizations", root, Some(body)).await
}

/// Creates an organization named `name` and returns its uid.
async fn organization(app: &TestApp, root: &str, name: &str, hostname: &str) -> String {
    let response = create(app, root, json!({"name": name, "hostname": hostname})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["uid"].as_str().unwrap().to_string()
}

async fn import(app: &TestApp, root: &str, org: &str, body: Value) -> Response {
    let path = format!("/id/v3/organizations/{org}/import/person");
    send(app, "POST", &path, root, Some(body)).await
}

/// A verified person at `address` who is a member of `org` with `roles`;
/// returns their uid and a fresh access token that carries the membership.
async fn member(
    app: &TestApp,
    root: &str,
    org: &str,
    address: &str,
    roles: &[&str],
) -> (String, String) {
    let (id_token, _) = app.verified_person(address, "CorrectHorse").await;
    let uid = claims_of(&id_token)["sub"].as_str().unwrap().to_string();
    let imported = import(app, root, org, json!({"email": address, "roles": roles})).await;
    assert_eq!(imported.status(), StatusCode::CREATED);
    let id_token = token_of(app.login(address, "CorrectHorse").await).await;
    (uid, token_of(app.access(&id_token).await).await)
}

/// "Example Inc" at example.test, founded by a service administrator, with
/// alice@example.org as its administrator.
struct Fixture {
    root: String,
    org: String,
    admin_uid: String,
    admin: String,
}

async fn organization_with_admin(app: &TestApp) -> Fixture {
    let root = cluster_admin(app).await;
    let org = organization(app, &root, "Example Inc", "example.test").await;
    let admin_roles = &["Organization.Admin"];
    let (admin_uid, admin) = member(app, &root, &org, "alice@example.org", admin_roles).await;
    Fixture {
        root,
        org,
        admin_uid,
        admin,
    }
}

/// Reads an SSE stream until `marker` arrives, for at most ten seconds.
async fn read_until(stream: &mut Response, marker: &str) -> String {
    let mut received = String::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while !received.contains(marker) {
            let chunk = stream
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(read.is_ok(), "no {marker} within 10 s: {received}");
    received
}

async fn open_stream(app: &TestApp, access: &str) -> Response {
    let stream = app
        .client
        .get(app.url("/id/v3/signaling/stream"))
        .header("accept", "text/event-stream")
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    stream
}

#[tokio::test]
async fn only_a_service_administrator_creates_organizations_each_with_its_own_hostname() {
    let app = TestApp::spawn().await;
    let (_, plain) = app.verified_person("bob@example.org", "CorrectHorse").await;
    let refused = create(&app, &plain, json!({"name": "Example Inc"})).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(refused).await, 403001);

    let root = cluster_admin(&app).await;
    let body = json!({"name": "Example Inc", "hostname": "Teambeam.Example.TEST",
        "locale": "de_DE", "timeZone": "Europe/Berlin", "externalUid": "e607e95f",
        "legalNoticeUrl": "https://www.example.test/imprint/", "memberLimit": 5});
    let created = create(&app, &root, body).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_string();
    let created: Value = created.json().await.unwrap();
    let uid = created["uid"].as_str().unwrap();
    assert_eq!(location, format!("/id/v3/organizations/{uid}"));
    assert_eq!(created["profile"]["hostname"], "teambeam.example.test");
    assert_eq!(created["profile"]["inactiveHostnames"], json!([]));
    assert_eq!(created["profile"]["locale"], "de_DE");
    assert_eq!(created["externalUid"], "e607e95f");
    assert_eq!(created["memberCount"], 0);
    assert_eq!(created["memberLimit"], 5);
    assert_eq!(created["subscriptions"], json!([]));

    let taken = create(
        &app,
        &root,
        json!({"name": "Copycat", "hostname": "teambeam.example.test"}),
    )
    .await;
    assert_eq!(taken.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(taken).await, 403002);
    for bad in [
        json!({"hostname": "x.example.test"}),
        json!({"name": "X", "hostname": "not a host"}),
        json!({"name": "X", "timeZone": "Mars/Olympus"}),
        json!({"name": "X", "legalNoticeUrl": "ftp://x"}),
    ] {
        let response = create(&app, &root, bad.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }

    let random = create(&app, &root, json!({"name": "No Host"})).await;
    assert_eq!(random.status(), StatusCode::CREATED);
    let random: Value = random.json().await.unwrap();
    assert!(
        random["profile"]["hostname"]
            .as_str()
            .unwrap()
            .ends_with(".127.0.0.1")
    );
}

#[tokio::test]
async fn anyone_finds_an_organization_by_uid_or_any_of_its_hostnames() {
    let app = TestApp::spawn().await;
    let root = cluster_admin(&app).await;
    let uid = organization(&app, &root, "Example Inc", "old.example.test").await;
    let moved = send(
        &app,
        "PUT",
        &format!("/id/v3/organizations/{uid}/import/person"),
        &root,
        Some(json!({"name": "Example Corp", "hostname": "new.example.test"})),
    )
    .await;
    assert_eq!(moved.status(), StatusCode::OK);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(moved["profile"]["hostname"], "new.example.test");
    assert_eq!(
        moved["profile"]["inactiveHostnames"],
        json!(["old.example.test"])
    );

    for key in [uid.as_str(), "new.example.test", "OLD.example.test"] {
        let found = app.get(&format!("/id/v3/public/organization/{key}")).await;
        assert_eq!(found.status(), StatusCode::OK, "{key}");
        let tag = found.headers()["etag"].clone();
        let body: Value = found.json().await.unwrap();
        assert_eq!(body["uid"], uid.as_str());
        assert_eq!(body["name"], "Example Corp");
        assert_eq!(body["selfSignup"], false);
        let again = app
            .client
            .get(app.url(&format!("/id/v3/public/organization/{key}")))
            .header("if-none-match", tag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }
    let missing = app
        .get("/id/v3/public/organization/nowhere.example.test")
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(missing).await, 404001);
}

#[tokio::test]
async fn twenty_concurrent_creations_with_one_hostname_have_one_winner() {
    let app = TestApp::spawn().await;
    let root = cluster_admin(&app).await;
    let attempts = (0..20).map(|i| {
        create(
            &app,
            &root,
            json!({"name": format!("Org {i}"), "hostname": "contested.example.test"}),
        )
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect();
    let won = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let lost = statuses
        .iter()
        .filter(|s| **s == StatusCode::FORBIDDEN)
        .count();
    assert_eq!((won, lost), (1, 19), "{statuses:?}");
    let claims: Vec<(String, bool)> =
        sqlx::query_as("SELECT hostname, confirmed FROM hostname_claims")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(claims, vec![("contested.example.test".to_string(), true)]);
    let organizations: i64 = sqlx::query_scalar("SELECT count(*) FROM organization_view_v1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(organizations, 1);
}

#[tokio::test]
async fn twenty_concurrent_imports_of_one_person_into_twenty_organizations_have_one_winner() {
    let app = TestApp::spawn().await;
    let root = cluster_admin(&app).await;
    let mut organizations = Vec::new();
    for i in 0..20 {
        organizations.push(
            organization(
                &app,
                &root,
                &format!("Org {i}"),
                &format!("o{i}.example.test"),
            )
            .await,
        );
    }
    app.verified_person("bob@example.org", "CorrectHorse").await;
    let attempts = organizations.iter().map(|org| {
        import(
            &app,
            &root,
            org,
            json!({"email": "bob@example.org", "roles": []}),
        )
    });
    let responses = futures::future::join_all(attempts).await;
    let statuses: Vec<StatusCode> = responses.iter().map(|r| r.status()).collect();
    let won = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let lost = statuses
        .iter()
        .filter(|s| **s == StatusCode::FORBIDDEN)
        .count();
    assert_eq!((won, lost), (1, 19), "{statuses:?}");
    let claims: Vec<bool> = sqlx::query_scalar("SELECT confirmed FROM membership_claims")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(claims, vec![true], "one confirmed claim and no orphans");
    let members: i64 = sqlx::query_scalar("SELECT sum(member_count) FROM organization_view_v1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(members, 1);
}

#[tokio::test]
async fn an_imported_person_is_a_verified_member_who_logs_in_with_the_imported_hash() {
    let app = TestApp::spawn().await;
    let root = cluster_admin(&app).await;
    let org = organization(&app, &root, "Example Inc", "example.test").await;
    let hash = bcrypt::hash("CorrectHorse", 4).unwrap();
    let body = json!({"email": "carol@example.org", "name": "Carol", "passwordHash": hash,
        "locale": "de_DE", "timeZone": "Europe/Berlin", "roles": ["Organization.Admin", "Service.Spaces.Use"]});
    let imported = import(&app, &root, &org, body).await;
    assert_eq!(imported.status(), StatusCode::CREATED);
    let location = imported.headers()["location"].to_str().unwrap().to_string();
    let profile: Value = imported.json().await.unwrap();
    let uid = profile["uid"].as_str().unwrap();
    assert_eq!(location, format!("/id/v3/public/profile/{uid}"));
    assert_eq!(
        profile["email"], "carol@example.org",
        "the imported address counts as verified"
    );

    let id_token = token_of(app.login("carol@example.org", "CorrectHorse").await).await;
    let claims = claims_of(&id_token);
    assert_eq!(claims["http://skalio.com/org_id"], org.as_str());
    assert_eq!(
        claims["roles"],
        json!(["Organization.Admin", "Service.Spaces.Use"])
    );
    let access = token_of(app.access(&id_token).await).await;
    let own: Value = app.profile(&access).await.json().await.unwrap();
    assert_eq!(own["membership"]["organization"]["uid"], org.as_str());
    assert_eq!(
        own["membership"]["organization"]["hostname"],
        "example.test"
    );
    assert_eq!(
        own["membership"]["roles"],
        json!(["Organization.Admin", "Service.Spaces.Use"])
    );
    let fetched = send(
        &app,
        "GET",
        &format!("/id/v3/organizations/{org}"),
        &access,
        None,
    )
    .await;
    assert_eq!(fetched.status(), StatusCode::OK);
    let fetched: Value = fetched.json().await.unwrap();
    assert_eq!(fetched["memberCount"], 1);

    for (bad, status) in [
        (
            json!({"email": "dave@example.org", "passwordHash": "md5:abc"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"email": "dave@example.org", "roles": ["Root"]}),
            StatusCode::BAD_REQUEST,
        ),
        (json!({"email": "not an address"}), StatusCode::BAD_REQUEST),
        (json!({"name": "no address"}), StatusCode::BAD_REQUEST),
    ] {
        let response = import(&app, &root, &org, bad.clone()).await;
        assert_eq!(response.status(), status, "{bad}");
    }
    let nowhere = import(&app, &root, "nowhere", json!({"email": "dave@example.org"})).await;
    assert_eq!(nowhere.status(), StatusCode::NOT_FOUND);
    let not_root = import(&app, &access, &org, json!({"email": "dave@example.org"})).await;
    assert_eq!(not_root.status(), StatusCode::FORBIDDEN);
    let stray: i64 =
        sqlx::query_scalar("SELECT count(*) FROM email_view_v1 WHERE address = 'dave@example.org'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stray, 0, "a refused import leaves no person behind");
}

#[tokio::test]
async fn administrators_manage_roles_and_tokens_die_with_old_privileges() {
    let app = TestApp::spawn().await;
    let Fixture {
        root,
        org,
        admin_uid,
        admin,
        ..
    } = organization_with_admin(&app).await;
    let (bob_uid, bob) = member(
        &app,
        &root,
        &org,
        "bob@example.org",
        &["Service.Spaces.Use"],
    )
    .await;
    let (_, outsider) = app.verified_person("eve@example.org", "CorrectHorse").await;

    let members = send(
        &app,
        "GET",
        &format!("/id/v3/organizations/{org}/members"),
        &admin,
        None,
    )
    .await;
    assert_eq!(members.status(), StatusCode::OK);
    let members: Value = members.json().await.unwrap();
    let uids: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["uid"].as_str().unwrap())
        .collect();
    assert_eq!(uids, vec![admin_uid.as_str(), bob_uid.as_str()]);
    let addresses: Vec<&Value> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["emails"])
        .collect();
    assert_eq!(
        addresses,
        vec![
            &json!([{"address": "alice@example.org", "primary": true, "verified": true, "removeAt": null}]),
            &json!([{"address": "bob@example.org", "primary": true, "verified": true, "removeAt": null}]),
        ],
        "each member with exactly their own addresses"
    );
    for token in [&bob, &outsider] {
        let refused = send(
            &app,
            "GET",
            &format!("/id/v3/organizations/{org}/members"),
            token,
            None,
        )
        .await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }
    let unknown = send(
        &app,
        "GET",
        "/id/v3/organizations/nowhere/members",
        &admin,
        None,
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    let path = format!("/id/v3/organizations/{org}/members");
    let promote = json!({"uid": bob_uid, "roles": ["Contract.Read"], "reference": "employee 7"});
    let promoted = send(&app, "POST", &path, &admin, Some(promote)).await;
    assert_eq!(promoted.status(), StatusCode::CREATED);
    assert_eq!(
        promoted.headers()["location"].to_str().unwrap(),
        format!("/id/v3/organizations/{org}/members/{bob_uid}")
    );
    assert!(promoted.headers().get("authorization").is_none());
    let promoted: Value = promoted.json().await.unwrap();
    assert_eq!(promoted["roles"], json!(["Contract.Read"]));
    assert_eq!(promoted["reference"], "employee 7");
    assert_eq!(
        app.profile(&bob).await.status(),
        StatusCode::UNAUTHORIZED,
        "Bob's old token died"
    );
    let feed: Value = app
        .get_with(
            "/id/v3/signaling",
            &token_of(
                app.access(&token_of(app.login("bob@example.org", "CorrectHorse").await).await)
                    .await,
            )
            .await,
        )
        .await
        .json()
        .await
        .unwrap();
    let types: Vec<&str> = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        vec!["PRIVILEGES_UPDATED", "PRIVILEGES_UPDATED"],
        "joined, then roles changed"
    );

    let drop_own = json!({"uid": admin_uid, "roles": []});
    let refused = send(&app, "POST", &path, &admin, Some(drop_own)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let stranger = json!({"uid": "nobody", "roles": []});
    assert_eq!(
        send(&app, "POST", &path, &admin, Some(stranger))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let bad_role = json!({"uid": bob_uid, "roles": ["Root"]});
    assert_eq!(
        send(&app, "POST", &path, &admin, Some(bad_role))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );

    let own = json!({"uid": admin_uid, "roles": ["Organization.Admin", "Contract.Admin"]});
    let renewed = send(&app, "POST", &path, &admin, Some(own)).await;
    assert_eq!(renewed.status(), StatusCode::CREATED);
    let bearer = renewed.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_string();
    let new_id_token = bearer.strip_prefix("Bearer ").unwrap();
    assert_eq!(
        claims_of(new_id_token)["roles"],
        json!(["Contract.Admin", "Organization.Admin"])
    );
    assert_eq!(
        app.profile(&admin).await.status(),
        StatusCode::UNAUTHORIZED,
        "the old token died"
    );
    let fresh = token_of(app.access(new_id_token).await).await;
    let member = send(
        &app,
        "GET",
        &format!("/id/v3/organizations/{org}/members/{admin_uid}"),
        &fresh,
        None,
    )
    .await;
    assert_eq!(member.status(), StatusCode::OK);
    let missing = send(
        &app,
        "GET",
        &format!("/id/v3/organizations/{org}/members/nobody"),
        &fresh,
        None,
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn members_leave_with_a_new_token_but_the_last_administrator_stays() {
    let app = TestApp::spawn().await;
    let Fixture {
        root, org, admin, ..
    } = organization_with_admin(&app).await;
    let (_, bob) = member(&app, &root, &org, "bob@example.org", &[]).await;
    let leave = format!("/id/v3/organizations/{org}/leave");

    let refused = send(&app, "POST", &leave, &admin, None).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(refused).await, 403001);

    let left = send(&app, "POST", &leave, &bob, None).await;
    assert_eq!(left.status(), StatusCode::NO_CONTENT);
    let bearer = left.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_string();
    let new_id_token = bearer.strip_prefix("Bearer ").unwrap();
    assert!(
        claims_of(new_id_token)
            .get("http://skalio.com/org_id")
            .is_none_or(Value::is_null)
    );
    assert_eq!(app.profile(&bob).await.status(), StatusCode::UNAUTHORIZED);
    let fresh = token_of(app.access(new_id_token).await).await;
    let profile: Value = app.profile(&fresh).await.json().await.unwrap();
    assert_eq!(profile["membership"], Value::Null);
    assert_eq!(
        send(&app, "POST", &leave, &fresh, None).await.status(),
        StatusCode::NOT_FOUND
    );
    let organization: Value = send(
        &app,
        "GET",
        &format!("/id/v3/organizations/{org}"),
        &admin,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(organization["memberCount"], 1);
}

#[tokio::test]
async fn removing_a_member_deletes_their_account_but_never_the_last_administrator() {
    let app = TestApp::spawn().await;
    let Fixture {
        root,
        org,
        admin_uid,
        admin,
        ..
    } = organization_with_admin(&app).await;
    let (bob_uid, bob) = member(&app, &root, &org, "bob@example.org", &[]).await;

    let own = send(
        &app,
        "DELETE",
        &format!("/id/v3/organizations/{org}/members/{admin_uid}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        own.status(),
        StatusCode::FORBIDDEN,
        "the last administrator"
    );
    let by_member = send(
        &app,
        "DELETE",
        &format!("/id/v3/organizations/{org}/members/{admin_uid}"),
        &bob,
        None,
    )
    .await;
    assert_eq!(by_member.status(), StatusCode::FORBIDDEN);

    let removed = send(
        &app,
        "DELETE",
        &format!("/id/v3/organizations/{org}/members/{bob_uid}?inform=false"),
        &admin,
        None,
    )
    .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.profile(&bob).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.login("bob@example.org", "CorrectHorse").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get(&format!("/id/v3/public/profile/{bob_uid}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let again = send(
        &app,
        "DELETE",
        &format!("/id/v3/organizations/{org}/members/{bob_uid}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let signup_again = app.signup("bob@example.org", "CorrectHorse").await;
    assert_eq!(
        signup_again.status(),
        StatusCode::OK,
        "the address is free again"
    );
}

#[tokio::test]
async fn the_last_administrator_deletes_their_account_only_once_nobody_else_is_left() {
    let app = TestApp::spawn().await;
    let Fixture {
        root, org, admin, ..
    } = organization_with_admin(&app).await;
    let (_, bob) = member(&app, &root, &org, "bob@example.org", &[]).await;

    let refused = send(&app, "DELETE", "/id/v3/profile", &admin, None).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(refused).await, 403001);
    assert_eq!(
        app.profile(&admin).await.status(),
        StatusCode::OK,
        "nothing changed"
    );

    assert_eq!(
        send(&app, "DELETE", "/id/v3/profile", &bob, None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(&app, "DELETE", "/id/v3/profile", &admin, None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let organization = app.get(&format!("/id/v3/public/organization/{org}")).await;
    assert_eq!(
        organization.status(),
        StatusCode::OK,
        "the organization outlives its members"
    );
}

#[tokio::test]
async fn every_member_hears_of_a_profile_change_and_of_a_colleagues_avatar() {
    let app = TestApp::spawn().await;
    let Fixture {
        root,
        org,
        admin_uid: alice_uid,
        admin,
        ..
    } = organization_with_admin(&app).await;
    let (_, bob) = member(&app, &root, &org, "bob@example.org", &[]).await;
    let (_, outsider) = app.verified_person("eve@example.org", "CorrectHorse").await;
    let profile = format!("/id/v3/organizations/{org}/profile");

    let mut stream = open_stream(&app, &bob).await;
    let changed = send(
        &app,
        "PUT",
        &profile,
        &admin,
        Some(json!({"name": "Example Corp", "city": "Hamburg"})),
    )
    .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(
        (changed["name"].as_str(), changed["city"].as_str()),
        (Some("Example Corp"), Some("Hamburg"))
    );
    let received = read_until(&mut stream, "ORGANIZATION_PROFILE_UPDATED").await;
    assert!(
        received.contains("event: ORGANIZATION_PROFILE_UPDATED"),
        "{received}"
    );

    let jpeg = {
        let image = image::RgbImage::from_pixel(30, 30, image::Rgb([200, 10, 10]));
        let mut bytes = std::io::Cursor::new(Vec::new());
        image
            .write_to(&mut bytes, image::ImageFormat::Jpeg)
            .unwrap();
        bytes.into_inner()
    };
    let uploaded = app
        .client
        .put(app.url("/id/v3/profile/avatar"))
        .bearer_auth(&admin)
        .header("content-type", "image/jpeg")
        .body(jpeg)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::OK);
    let received = read_until(&mut stream, "PROFILE_AVATAR_UPDATED\n").await;
    assert!(
        received.contains(&alice_uid),
        "the event names Alice: {received}"
    );

    let outsiders_feed: Value = app
        .get_with("/id/v3/signaling", &outsider)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        outsiders_feed["events"],
        json!([]),
        "nothing reaches a non-member"
    );

    assert_eq!(
        send(&app, "GET", &profile, &bob, None).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&app, "GET", &profile, &outsider, None).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(
            &app,
            "GET",
            &format!("/id/v3/organizations/{org}"),
            &outsider,
            None
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, "PUT", &profile, &bob, Some(json!({"name": "Mine"})))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, "PUT", &profile, &admin, Some(json!({"name": ""})))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(
            &app,
            "GET",
            "/id/v3/organizations/nowhere/profile",
            &bob,
            None
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn changing_technical_details_needs_a_second_factor() {
    let app = TestApp::spawn().await;
    let Fixture { org, admin, .. } = organization_with_admin(&app).await;
    let refused = send(
        &app,
        "PUT",
        &format!("/id/v3/organizations/{org}"),
        &admin,
        Some(json!({"mfaRequired": true})),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["details"][0]
            .as_str()
            .unwrap()
            .contains("multi-factor")
    );
}

#[tokio::test]
async fn a_disabled_person_cannot_log_in_and_has_no_public_profile_until_enabled() {
    let app = TestApp::spawn().await;
    let (id_token, access) = app.verified_person("bob@example.org", "CorrectHorse").await;
    let uid = claims_of(&id_token)["sub"].as_str().unwrap().to_string();
    let state = &app.running.as_ref().unwrap().state;

    admin::apply(state, &uid, AdminChange::Disable)
        .await
        .unwrap();
    let public = app.get(&format!("/id/v3/public/profile/{uid}")).await;
    assert_eq!(public.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(public).await, 403001);
    assert_eq!(
        app.login("bob@example.org", "CorrectHorse").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.profile(&access).await.status(),
        StatusCode::UNAUTHORIZED,
        "tokens died"
    );

    admin::apply(state, &uid, AdminChange::Enable)
        .await
        .unwrap();
    assert_eq!(
        app.get(&format!("/id/v3/public/profile/{uid}"))
            .await
            .status(),
        StatusCode::OK
    );
    token_of(app.login("bob@example.org", "CorrectHorse").await).await;
}

#[tokio::test]
async fn a_removed_members_name_address_and_reference_leave_no_trace_in_a_dump() {
    let app = TestApp::spawn().await;
    let Fixture {
        root, org, admin, ..
    } = organization_with_admin(&app).await;
    let hash = bcrypt::hash("CorrectHorse", 4).unwrap();
    let imported = import(
        &app,
        &root,
        &org,
        json!({"email": "zebulon.quixotic@example.org", "name": "Zebulon Quixotic",
               "passwordHash": hash}),
    )
    .await;
    assert_eq!(imported.status(), StatusCode::CREATED);
    let zebulon: Value = imported.json().await.unwrap();
    let zebulon = zebulon["uid"].as_str().unwrap().to_string();
    let noted = send(
        &app,
        "POST",
        &format!("/id/v3/organizations/{org}/members"),
        &admin,
        Some(json!({"uid": zebulon, "roles": [], "reference": "payroll xq-7731"})),
    )
    .await;
    assert_eq!(noted.status(), StatusCode::CREATED);
    let before = common::dump(&app.database_url);
    assert!(before.contains("zebulon") && before.contains("xq-7731"));

    let removed = send(
        &app,
        "DELETE",
        &format!("/id/v3/organizations/{org}/members/{zebulon}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);

    let after = common::dump(&app.database_url);
    assert!(
        !after.contains("zebulon") && !after.contains("quixotic"),
        "a part of the name or address survived the removal"
    );
    assert!(!after.contains("xq-7731"), "the reference survived");
    assert!(
        after.contains("alice@example.org"),
        "other members are untouched"
    );
}

#[tokio::test]
async fn a_removed_member_is_told_by_mail_only_when_the_administrator_asks() {
    let app = TestApp::spawn().await;
    let Fixture {
        root, org, admin, ..
    } = organization_with_admin(&app).await;
    let (carol, _) = member(&app, &root, &org, "carol@example.org", &[]).await;
    let (bob, _) = member(&app, &root, &org, "bob@example.org", &[]).await;
    let remove = |person: String, inform: bool| {
        let path = format!("/id/v3/organizations/{org}/members/{person}?inform={inform}");
        let admin = admin.clone();
        let app = &app;
        async move { send(app, "DELETE", &path, &admin, None).await.status() }
    };

    assert_eq!(remove(carol, false).await, StatusCode::NO_CONTENT);
    assert_eq!(remove(bob.clone(), true).await, StatusCode::NO_CONTENT);

    let notice = app
        .mailbox
        .wait_for_containing("bob@example.org", "has been deleted")
        .await;
    assert!(notice.data.contains("Example Inc"), "{}", notice.data);
    // Notices go out in the order of the deletions, so Carol's would be here.
    let to_carol = app
        .mailbox
        .all()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == "carol@example.org"))
        .filter(|m| m.data.contains("has been deleted"))
        .count();
    assert_eq!(to_carol, 0, "nobody asked to tell Carol");
    let gone = common::eventually(Duration::from_secs(5), || async {
        !common::dump(&app.database_url).contains("bob@example.org")
    })
    .await;
    assert!(gone, "the address outlived the notice");

    let again = send(
        &app,
        "DELETE",
        &format!("/id/v3/organizations/{org}/members/{bob}?inform=true"),
        &admin,
        None,
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM deletion_notices")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(kept, 0, "a refused removal keeps no address");
}

#[tokio::test]
async fn a_removal_cut_short_before_the_account_deletion_is_finished_by_the_sweep() {
    let app = TestApp::spawn().await;
    let Fixture { root, org, .. } = organization_with_admin(&app).await;
    let (bob_uid, bob) = member(&app, &root, &org, "bob@example.org", &[]).await;
    let state = &app.running.as_ref().unwrap().state;
    // What a process that dies right after the organization's append leaves.
    let removal = OrganizationCommand::RemoveMember(RemoveMember {
        by: Actor::ClusterAdministrator,
        person: bob_uid.clone(),
        inform: false,
        at: chrono::Utc::now(),
    });
    state
        .bus()
        .organization(&org, removal, &RequestMeta::default())
        .await
        .expect("the removal is appended");
    assert_eq!(app.profile(&bob).await.status(), StatusCode::OK);

    let young = accounts::finish_interrupted_removals(state, Duration::from_secs(60)).await;
    assert_eq!(young.unwrap(), 0, "a removal still under way is left alone");
    let finished = accounts::finish_interrupted_removals(state, Duration::ZERO).await;
    assert_eq!(finished.unwrap(), 1);

    assert_eq!(app.profile(&bob).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.login("bob@example.org", "CorrectHorse").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let again = accounts::finish_interrupted_removals(state, Duration::ZERO).await;
    assert_eq!(again.unwrap(), 0, "nothing is left pending");
}
