//! Many routes in one function: an axum `Router` under `helve::http::service` whose routes take
//! helve's extractors and answer helve's answers, with the problems, statuses, codes, log
//! lines and metrics a single-route `#[helve::handler]` gives; and one route function that is
//! both.

use std::{collections::BTreeMap, sync::Mutex};

use axum::{
    Router,
    extract::State,
    routing::{get, post},
};
use helve::http::{Claims, Created, Json, Path, Query, StatusCode, Valid};
use helve::testing::{LogLine, Outcome, TestContext, TestFunction, fixtures};
use helve::{Context, Function};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Deserialize, validator::Validate)]
#[serde(rename_all = "camelCase")]
struct NewNote {
    #[validate(length(min = 1, max = 100))]
    note_title: String,
}

#[derive(Debug, Clone, Serialize)]
struct Note {
    id: String,
    title: String,
}

#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
enum NoteError {
    #[error("note {0} not found")]
    #[status(404, code = "note_not_found")]
    NotFound(String),
    #[error("the note store is closed for maintenance")]
    #[status(503, code = "store_unavailable")]
    Closed,
}

#[derive(Default)]
struct Notes {
    notes: Mutex<BTreeMap<String, Note>>,
}

async fn setup() -> Result<Notes, helve::Error> {
    Ok(Notes::default())
}

async fn create(
    State(notes): State<&'static Notes>,
    ctx: Context,
    Valid(new): Valid<NewNote>,
) -> Result<Created<Json<Note>>, NoteError> {
    if new.note_title == "closed" {
        return Err(NoteError::Closed);
    }
    let id = format!("n-{}", ctx.request_id());
    let note = Note {
        id: id.clone(),
        title: new.note_title,
    };
    let mut all = notes.notes.lock().unwrap_or_else(|e| e.into_inner());
    all.insert(id.clone(), note.clone());
    Ok(Created {
        location: format!("/notes/{id}"),
        body: Json(note),
    })
}

/// The same function is a single-route handler (below, `helve_function!()`) and a route of
/// the router.
#[helve::handler(init = setup, service = "notes", namespace = "Notes")]
async fn get_note(
    Path(id): Path<String>,
    State(notes): State<&'static Notes>,
) -> Result<Json<Note>, NoteError> {
    let all = notes.notes.lock().unwrap_or_else(|e| e.into_inner());
    all.get(&id)
        .cloned()
        .map(Json)
        .ok_or(NoteError::NotFound(id))
}

#[derive(Deserialize)]
struct Search {
    limit: u8,
}

async fn search(Query(search): Query<Search>) -> Json<Value> {
    Json(json!({ "limit": search.limit }))
}

#[derive(Deserialize)]
struct Who {
    sub: String,
}

async fn whoami(Claims(who): Claims<Who>) -> Json<Value> {
    Json(json!({ "sub": who.sub }))
}

/// A response that cannot be JSON: a map whose keys are not strings.
async fn broken() -> (StatusCode, Json<BTreeMap<(u8, u8), u8>>) {
    (StatusCode::CREATED, Json(BTreeMap::from([((1, 2), 3)])))
}

fn routes(notes: &'static Notes) -> Router {
    Router::new()
        .route("/notes", post(create))
        .route("/notes/{id}", get(get_note))
        .route("/search", get(search))
        .route("/me", get(whoami))
        .route("/broken", get(broken))
        .with_state(notes)
}

async fn router() -> TestFunction<
    impl helve::Handler<helve::http::HttpEvent, Notes, helve::http::Http>,
    helve::http::HttpEvent,
    Notes,
    helve::http::Http,
> {
    let function = Function::new(helve::http::service(routes))
        .init(setup)
        .service("notes")
        .namespace("Notes");
    TestFunction::start(function)
        .await
        .unwrap_or_else(|failure| panic!("init failed: {failure:?}"))
}

fn post_note(body: Value) -> fixtures::Http {
    fixtures::api_gateway_http()
        .method("POST")
        .path("/notes")
        .json_body(body)
}

/// The one line the failed request logged, at `level`.
fn problem_line<'a>(outcome: &'a Outcome, level: &str, status: u16) -> &'a LogLine {
    let line = outcome.logs().with("status", status).assert_one();
    assert_eq!(line.level(), level, "{}", line.raw);
    line
}

#[tokio::test]
async fn a_note_created_by_one_route_is_found_by_the_other() {
    let mut function = router().await;
    let created = function
        .invoke_with(
            TestContext::new().request_id("req-1"),
            post_note(json!({ "noteTitle": "groceries" })),
        )
        .await;
    let response = created.http();
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.header("location"), Some("/notes/n-req-1"));
    assert_eq!(
        response.json(),
        json!({ "id": "n-req-1", "title": "groceries" })
    );
    assert!(response.header("x-correlation-id").is_some());
    created
        .metrics()
        .named("HttpResponses")
        .dimension("status_class", "2xx")
        .assert_value(1.0);

    let found = function
        .invoke(fixtures::api_gateway_http().path("/notes/n-req-1"))
        .await;
    assert_eq!(found.http().status, 200);
    assert_eq!(found.http().json()["title"], "groceries");
}

#[tokio::test]
async fn a_route_error_is_the_problem_a_handler_answers() {
    let mut function = router().await;
    let missing = function
        .invoke_with(
            TestContext::new().request_id("req-404"),
            fixtures::api_gateway_http().path("/notes/n-9"),
        )
        .await;
    let response = missing.http();
    assert_eq!(response.status, 404);
    assert_eq!(
        response.header("content-type"),
        Some(helve::http::PROBLEM_JSON)
    );
    let problem = response.json();
    assert_eq!(problem["code"], "note_not_found");
    assert_eq!(problem["detail"], "note n-9 not found");
    assert_eq!(problem["instance"], "/notes/n-9");
    assert_eq!(problem["request_id"], "req-404");
    let line = problem_line(&missing, "INFO", 404);
    assert_eq!(*line.get("code"), "note_not_found");
    assert_eq!(*line.get("error_type"), "note_not_found");

    let closed = function
        .invoke(post_note(json!({ "noteTitle": "closed" })))
        .await;
    let response = closed.http();
    assert_eq!(response.status, 503);
    let problem = response.json();
    assert_eq!(problem["code"], "store_unavailable");
    assert!(
        problem.get("detail").is_none(),
        "a server error's message is not shown: {problem}"
    );
    let line = problem_line(&closed, "ERROR", 503);
    assert!(
        line.message().contains("closed for maintenance"),
        "{}",
        line.raw
    );
}

#[tokio::test]
async fn a_body_a_route_cannot_take_is_answered_by_helve_with_the_field_the_client_sent() {
    let mut function = router().await;
    let invalid = function.invoke(post_note(json!({ "noteTitle": "" }))).await;
    let response = invalid.http();
    assert_eq!(response.status, 422);
    let problem = response.json();
    assert_eq!(problem["code"], "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "noteTitle");
    assert_eq!(
        problem["errors"][0]["message"],
        "must be 1 to 100 characters"
    );
    let line = problem_line(&invalid, "INFO", 422);
    assert_eq!(*line.get("fields"), "noteTitle");

    let not_json = function
        .invoke(
            fixtures::api_gateway_http()
                .method("POST")
                .path("/notes")
                .header("content-type", "application/json")
                .body("{\"noteTitle\": "),
        )
        .await;
    assert_eq!(not_json.http().status, 400);
    assert_eq!(not_json.http().json()["code"], "invalid_json");
    problem_line(&not_json, "INFO", 400);

    let text = function
        .invoke(
            fixtures::api_gateway_http()
                .method("POST")
                .path("/notes")
                .header("content-type", "text/plain")
                .body("groceries"),
        )
        .await;
    assert_eq!(text.http().status, 415);
    assert_eq!(text.http().json()["code"], "unsupported_media_type");
}

#[tokio::test]
async fn query_and_claims_are_taken_as_a_handler_takes_them() {
    let mut function = router().await;
    let search = function
        .invoke(
            fixtures::api_gateway_http()
                .path("/search")
                .query("limit", "7"),
        )
        .await;
    assert_eq!(search.http().json(), json!({ "limit": 7 }));

    let bad = function
        .invoke(
            fixtures::api_gateway_http()
                .path("/search")
                .query("limit", "many"),
        )
        .await;
    assert_eq!(bad.http().status, 400);
    assert_eq!(bad.http().json()["code"], "invalid_query");

    let anonymous = function
        .invoke(fixtures::api_gateway_http().path("/me"))
        .await;
    assert_eq!(anonymous.http().status, 401);
    assert_eq!(anonymous.http().json()["code"], "unauthorized");

    let signed_in = function
        .invoke(fixtures::api_gateway_http().path("/me").set(
            "/requestContext/authorizer",
            json!({ "jwt": { "claims": { "sub": "ada" }, "scopes": [] } }),
        ))
        .await;
    assert_eq!(signed_in.http().json(), json!({ "sub": "ada" }));
}

#[tokio::test]
async fn a_status_around_an_answer_that_failed_does_not_hide_the_failure() {
    let mut function = router().await;
    let outcome = function
        .invoke(fixtures::api_gateway_http().path("/broken"))
        .await;
    let response = outcome.http();
    assert_eq!(response.status, 500, "{}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some(helve::http::PROBLEM_JSON)
    );
    outcome
        .metrics()
        .named("HttpResponses")
        .dimension("status_class", "5xx")
        .assert_value(1.0);
}

#[tokio::test]
async fn a_path_no_route_matches_is_the_router_s_404_logged_once() {
    let mut function = router().await;
    let outcome = function
        .invoke(fixtures::api_gateway_http().path("/nowhere"))
        .await;
    assert_eq!(outcome.http().status, 404);
    let line = problem_line(&outcome, "INFO", 404);
    assert!(line.message().contains("/nowhere"), "{}", line.raw);
}

#[tokio::test]
async fn the_route_function_is_also_a_single_route_handler() {
    let mut function = TestFunction::start(helve_function!())
        .await
        .unwrap_or_else(|failure| panic!("init failed: {failure:?}"));
    let outcome = function
        .invoke(
            fixtures::api_gateway_http()
                .path("/notes/n-1")
                .path_parameter("id", "n-1"),
        )
        .await;
    let response = outcome.http();
    assert_eq!(response.status, 404);
    assert_eq!(response.json()["code"], "note_not_found");
    assert_eq!(response.json()["detail"], "note n-1 not found");
    problem_line(&outcome, "INFO", 404);
}
