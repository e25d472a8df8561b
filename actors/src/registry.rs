//! The registry of running clients: a read-mostly map from client code to its supervisor, shared
//! by the HTTP workers (no actor in the path, so no single thread serves every client). Clients
//! are added and removed at run time; on start every client found in the database is recovered.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use actix::prelude::*;

use crate::clock::TokioClock;
use crate::ids::ClientCode;
use crate::ratelimit::RateLimiters;
use crate::runtime::ArbiterPool;
use crate::storage::{client_tree, DbFlusher, CLIENT_TREE_PREFIX};
use crate::tenant::messages::Shutdown;
use crate::tenant::{SupervisorConfig, TenantSupervisor};

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The client runs already.
    #[error("client {0} exists already")]
    ClientExists(ClientCode),
    /// No such client runs.
    #[error("client {0} does not exist")]
    UnknownClient(ClientCode),
    /// The database failed.
    #[error("storage failed: {0}")]
    Storage(#[from] sled::Error),
}

impl RegistryError {
    /// Returns a stable, bounded name of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            RegistryError::ClientExists(_) => "client_exists",
            RegistryError::UnknownClient(_) => "unknown_client",
            RegistryError::Storage(_) => "storage",
        }
    }
}

/// The running clients.
#[derive(Debug)]
pub struct TenantRegistry {
    db: sled::Db,
    pool: ArbiterPool,
    limiters: Arc<RateLimiters<TokioClock>>,
    config: SupervisorConfig,
    tenants: RwLock<BTreeMap<ClientCode, Addr<TenantSupervisor>>>,
}

impl TenantRegistry {
    /// A registry over `db`, running clients on `pool`.
    pub fn new(
        db: sled::Db,
        pool: ArbiterPool,
        limiters: Arc<RateLimiters<TokioClock>>,
        mut config: SupervisorConfig,
    ) -> Self {
        // Every client's ledger lives in this one database: their flushes are coalesced.
        if config.inventory.flusher.is_none() {
            config.inventory.flusher = Some(DbFlusher::new(&db));
        }
        Self {
            db,
            pool,
            limiters,
            config,
            tenants: RwLock::new(BTreeMap::new()),
        }
    }

    /// Starts the supervisor of a new client on its arbiter.
    pub fn add_client(&self, client: &ClientCode) -> Result<Addr<TenantSupervisor>, RegistryError> {
        let mut tenants = self
            .tenants
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if tenants.contains_key(client) {
            return Err(RegistryError::ClientExists(client.clone()));
        }
        let tree = client_tree(&self.db, client)?;
        let supervisor = TenantSupervisor::new(
            client.clone(),
            tree,
            self.limiters.clone(),
            self.config.clone(),
        );
        let addr = TenantSupervisor::start_in_arbiter(&self.pool.shard(client), |_| supervisor);
        tenants.insert(client.clone(), addr.clone());
        Ok(addr)
    }

    /// Stops a client's supervisor and children. Its ledger stays in the database.
    pub fn remove_client(&self, client: &ClientCode) -> Result<(), RegistryError> {
        let mut tenants = self
            .tenants
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let addr = tenants
            .remove(client)
            .ok_or_else(|| RegistryError::UnknownClient(client.clone()))?;
        // A control message: it must get through a full mailbox.
        addr.do_send(Shutdown);
        Ok(())
    }

    /// Returns the supervisor of `client`.
    pub fn get(&self, client: &ClientCode) -> Option<Addr<TenantSupervisor>> {
        self.tenants
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(client)
            .cloned()
    }

    /// Returns the running clients, in code order.
    pub fn clients(&self) -> Vec<ClientCode> {
        self.tenants
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Stops every client, then the arbiters.
    pub fn shutdown(self) {
        for client in self.clients() {
            let _ = self.remove_client(&client);
        }
        self.pool.stop();
    }

    /// Starts every client whose ledger is in the database and is not running yet; returns them.
    pub fn recover_all(&self) -> Result<Vec<ClientCode>, RegistryError> {
        let mut recovered = Vec::new();
        for name in self.db.tree_names() {
            let Some(code) = std::str::from_utf8(&name)
                .ok()
                .and_then(|name| name.strip_prefix(CLIENT_TREE_PREFIX))
            else {
                continue;
            };
            let Ok(client) = ClientCode::parse(code) else {
                tracing::warn!(
                    tree = code,
                    "a client tree with an invalid client code was left alone"
                );
                continue;
            };
            if self.get(&client).is_none() {
                self.add_client(&client)?;
                recovered.push(client);
            }
        }
        Ok(recovered)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::storage::{open_database, DEFAULT_CACHE_BYTES};
    use crate::tenant::messages::GetState;

    #[actix::test]
    async fn clients_are_added_recovered_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_database(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        let limiters = Arc::new(RateLimiters::with_clock(TokioClock));
        let registry = TenantRegistry::new(
            db.clone(),
            ArbiterPool::new(2),
            limiters.clone(),
            SupervisorConfig::default(),
        );
        let acme = ClientCode::parse("ACME").unwrap();
        let bolt = ClientCode::parse("BOLT").unwrap();
        let supervisor = registry.add_client(&acme).unwrap();
        assert_eq!(
            registry.add_client(&acme).unwrap_err().kind(),
            "client_exists"
        );
        let state = supervisor.send(GetState).await.unwrap().unwrap();
        assert_eq!(state.client, acme);
        client_tree(&db, &bolt).unwrap();
        assert_eq!(
            registry.recover_all().unwrap(),
            vec![bolt.clone()],
            "BOLT's ledger exists, so BOLT is recovered"
        );
        assert_eq!(registry.clients(), vec![acme.clone(), bolt.clone()]);

        registry.remove_client(&acme).unwrap();
        assert_eq!(
            registry.remove_client(&acme).unwrap_err().kind(),
            "unknown_client"
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while supervisor.connected() && tokio::time::Instant::now() < deadline {
            actix::clock::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            !supervisor.connected(),
            "the removed client's supervisor stopped"
        );
        assert_eq!(registry.clients(), vec![bolt]);
        registry.shutdown();
    }
}
