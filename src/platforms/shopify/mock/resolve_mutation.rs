//! Running an operation: a query through the resolvers of `resolve.rs`, a mutation
//! (`inventorySetQuantities` with `@idempotent`) against the world and the idempotency cache.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::super::graphql::{
    argument, argument_variable, collect_fields, invalid_variable, response_key, Ctx, Field,
    GqlError, Operation, OperationKind,
};
use super::super::inventory::{
    parse_set_input, set_quantities, ApiVersion, IdempotencyCache, Replay, SetPayload,
};
use super::{missing_argument, Entity, Exec};
use crate::platforms::mock::World;

/// What a mutation needs beside the world.
#[derive(Debug)]
pub struct MutationEnv<'m> {
    /// The API version of the request (its compare-and-swap and idempotency rules).
    pub version: ApiVersion,
    /// Results by `@idempotent` key.
    pub cache: &'m Mutex<IdempotencyCache>,
    /// Numbers adjustment groups.
    pub next_group: &'m AtomicU64,
    /// The time of the call.
    pub now: DateTime<Utc>,
}

/// The outcome of an operation: `data` (absent when a mutation's input was refused as a whole)
/// and `errors`.
#[derive(Debug)]
pub struct Outcome {
    /// `data`.
    pub data: Option<Value>,
    /// `errors`.
    pub errors: Vec<GqlError>,
}

/// Runs a validated operation. Holds no lock but the caller's world and, during a mutation, the
/// idempotency cache (taken after the world, so the order is always the same).
pub fn execute(world: &mut World, operation: &Operation<'_>, env: &MutationEnv<'_>) -> Outcome {
    match operation.kind {
        OperationKind::Query => {
            let mut exec = Exec {
                world,
                ctx: &operation.ctx,
                errors: Vec::new(),
            };
            let data = exec.project(&Entity::QueryRoot, operation.selection, &mut Vec::new());
            Outcome {
                data: Some(data),
                errors: exec.errors,
            }
        }
        OperationKind::Mutation => run_mutations(world, operation, env),
    }
}

fn run_mutations(world: &mut World, operation: &Operation<'_>, env: &MutationEnv<'_>) -> Outcome {
    let fields = match collect_fields(operation.selection, "Mutation", &operation.ctx) {
        Ok(fields) => fields,
        Err(error) => {
            return Outcome {
                data: None,
                errors: vec![error],
            }
        }
    };
    let mut data = Map::new();
    let mut errors = Vec::new();
    for (field, _) in fields {
        let key = response_key(field).to_string();
        if field.name == "__typename" {
            data.insert(key, json!("Mutation"));
            continue;
        }
        let payload = match set_quantities_field(world, field, &operation.ctx, env) {
            Ok(payload) => payload,
            Err(error) => {
                // An input refused as a whole fails the request before execution: no data.
                return Outcome {
                    data: None,
                    errors: vec![error.at(&[json!(key)])],
                };
            }
        };
        let mut exec = Exec {
            world,
            ctx: &operation.ctx,
            errors: Vec::new(),
        };
        let mut path = vec![json!(key)];
        let value = exec.project(&Entity::Payload(payload), &field.selection_set, &mut path);
        errors.append(&mut exec.errors);
        data.insert(key, value);
    }
    Outcome {
        data: Some(Value::Object(data)),
        errors,
    }
}

/// The key of `@idempotent(key:)` on `field`, when the directive is there.
fn idempotency_key(field: &Field, ctx: &Ctx<'_>) -> Result<Option<String>, GqlError> {
    let Some(directive) = field.directives.iter().find(|d| d.name == "idempotent") else {
        return Ok(None);
    };
    match argument(&directive.arguments, "key", ctx)? {
        Some(Value::String(key)) if !key.is_empty() && key.len() <= 255 => Ok(Some(key)),
        _ => Err(GqlError::coded(
            "The @idempotent directive needs a key: a non-empty string of at most 255 characters.",
            "INVALID_IDEMPOTENCY_KEY",
        )),
    }
}

fn set_quantities_field(
    world: &mut World,
    field: &Field,
    ctx: &Ctx<'_>,
    env: &MutationEnv<'_>,
) -> Result<SetPayload, GqlError> {
    let input = match argument(&field.arguments, "input", ctx)? {
        Some(input) if !input.is_null() => input,
        _ => return Err(missing_argument(field, "input")),
    };
    let parsed = parse_set_input(&input, env.version).map_err(|refusal| match refusal {
        Err(error) => error,
        Ok(problem) => match argument_variable(&field.arguments, "input") {
            Some(variable) => invalid_variable(
                variable,
                "InventorySetQuantitiesInput!",
                &input,
                &problem.path,
                &problem.explanation,
            ),
            None => GqlError::coded(
                format!(
                    "Argument 'input' on Field 'inventorySetQuantities' has an invalid value: {}",
                    problem.explanation
                ),
                "argumentLiteralsIncompatible",
            ),
        },
    })?;
    let key = idempotency_key(field, ctx)?;
    let Some(key) = key else {
        if env.version.idempotency_required() {
            return Err(GqlError::coded(
                "The @idempotent directive is required for this mutation.",
                "IDEMPOTENCY_KEY_REQUIRED",
            ));
        }
        let group = env.next_group.fetch_add(1, Ordering::Relaxed);
        return Ok(set_quantities(&parsed, world, env.now, group));
    };
    // serde_json's maps are sorted, so equal inputs print equal.
    let fingerprint = input.to_string();
    let mut cache = env.cache.lock().unwrap_or_else(|p| p.into_inner());
    match cache.lookup(&key, &fingerprint) {
        Replay::Same(payload) => Ok(payload),
        Replay::Mismatch => Err(GqlError::coded(
            "The idempotency key was already used with different arguments.",
            "IDEMPOTENCY_KEY_REUSED",
        )),
        Replay::New => {
            let group = env.next_group.fetch_add(1, Ordering::Relaxed);
            let payload = set_quantities(&parsed, world, env.now, group);
            cache.store(&key, &fingerprint, payload.clone());
            Ok(payload)
        }
    }
}
