// SqlStorage: opening (SQLite or PostgreSQL), the envelope keys (bootstrap, reload) and key administration.
#include "storage/sql_storage.hpp"

#include "storage/migrations.hpp"
#include "storage/postgres.hpp"
#include "storage/sqlite.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace rollout_mcp::storage {

namespace {
class StorageCodeCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "storage"; }
    std::string message(int value) const override {
        switch (static_cast<ErrorCode>(value)) {
            case ErrorCode::not_found: return "not_found";
            case ErrorCode::already_exists: return "already_exists";
            case ErrorCode::invalid_argument: return "invalid_argument";
            case ErrorCode::unauthenticated: return "unauthenticated";
            case ErrorCode::crypto: return "crypto";
            case ErrorCode::busy: return "busy";
            case ErrorCode::limit_exceeded: return "limit_exceeded";
            case ErrorCode::database: return "database";
        }
        return "storage error " + std::to_string(value);
    }
};
}  // namespace

const std::error_category& error_category() noexcept {
    static const StorageCodeCategory category;
    return category;
}

namespace detail {

std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Error from_sql(const SqlError& e, std::string_view operation) {
    ErrorCode code = ErrorCode::database;
    switch (e.kind()) {
        case SqlError::Kind::unique: code = ErrorCode::already_exists; break;
        case SqlError::Kind::foreign_key: code = ErrorCode::not_found; break;
        case SqlError::Kind::check:
        case SqlError::Kind::not_null: code = ErrorCode::invalid_argument; break;
        case SqlError::Kind::busy: code = ErrorCode::busy; break;
        case SqlError::Kind::connection:
        case SqlError::Kind::other: break;
    }
    // The messages name tables and constraints, never bound values, so they are safe to return.
    return Error{code, std::string(operation) + ": " + e.what()};
}

}  // namespace detail

using crypto::KeyId;
using crypto::SecretBytes;
using crypto::WrappedKey;
using crypto::WrapPurpose;
using detail::error;
using detail::guarded;
using detail::now_seconds;

namespace {

WrappedKey wrapped_from(const Statement& st, int nonce_col, int box_col) {
    WrappedKey w;
    const auto nonce = st.blob(nonce_col);
    const auto box = st.blob(box_col);
    // Lengths are enforced by CHECK constraints; a mismatch still must not overflow.
    std::memcpy(w.nonce.data(), nonce.data(), std::min(nonce.size(), w.nonce.size()));
    std::memcpy(w.box.data(), box.data(), std::min(box.size(), w.box.size()));
    return w;
}

void insert_data_key(Database& db, KeyId id, const WrappedKey& w, std::int64_t now) {
    Statement st = db.prepare(
        "INSERT INTO data_keys(key_id, nonce, wrapped, state, created_at) "
        "VALUES (?1, ?2, ?3, 'active', ?4)");
    st.bind(1, std::int64_t{id}).bind(2, w.nonce).bind(3, w.box).bind(4, now);
    st.run();
}

}  // namespace

SqlStorage::SqlStorage(std::unique_ptr<Database> db, crypto::MasterKey master)
    : db_(std::move(db)), master_(std::move(master)) {}

SqlStorage::~SqlStorage() {
    try {
        (void)flush_last_used();
    } catch (...) {  // a destructor must not throw; last-use times are advisory
    }
}

std::unique_ptr<SqlStorage> SqlStorage::open(const std::filesystem::path& db_path, crypto::MasterKey master) {
    std::unique_ptr<Database> db;
    try {
        db = SqliteDatabase::open(db_path);
    } catch (const std::exception& e) {
        throw StorageStartupError(std::string("cannot open database: ") + e.what());
    }
    return start(std::move(db), std::move(master));
}

std::unique_ptr<SqlStorage> SqlStorage::connect_postgres(const std::string& url, crypto::MasterKey master) {
    std::unique_ptr<Database> db;
    try {
        db = PgDatabase::connect(url);
    } catch (const std::exception& e) {
        throw StorageStartupError(e.what());   // libpq's message: host and port, never the URL or a password
    }
    return start(std::move(db), std::move(master));
}

std::unique_ptr<SqlStorage> SqlStorage::start(std::unique_ptr<Database> db, crypto::MasterKey master) {
    if (master.key.size() != crypto::kKeyBytes)
        throw std::logic_error("SqlStorage: the master key must be 32 bytes");
    apply_migrations(*db);
    const std::string where = db->description();
    std::unique_ptr<SqlStorage> s(new SqlStorage(std::move(db), std::move(master)));
    try {
        s->bootstrap_keys();
        s->backfill_credential_fingerprints();
    } catch (const SqlError& e) {
        throw StorageStartupError("cannot load data keys from " + where + ": " + e.what());
    }
    return s;
}

void SqlStorage::bootstrap_keys() {
    const std::string where = db_->description();
    {
        Transaction tx(*db_);
        db_->lock_for_transaction("rollout-mcp data keys");   // instances starting together create one first key
        Statement check = db_->prepare("SELECT check_value FROM master_key_check WHERE id = 1");
        if (check.step()) {
            if (!crypto::master_key_matches(master_.key, check.blob(0)))
                throw StorageStartupError(
                    "the master key from " + master_.source + " is not the key database " + where +
                    " was created with; start with the original master key (or restore the "
                    "matching key file)");
        } else {
            Statement count = db_->prepare("SELECT count(*) FROM data_keys");
            if (count.step() && count.int64(0) != 0)
                throw StorageStartupError("database " + where +
                                          " has data keys but no master-key check value; refusing "
                                          "to guess which master key wraps them");
            const std::int64_t now = now_seconds();
            const auto value = crypto::master_key_check_value(master_.key);
            Statement ins = db_->prepare(
                "INSERT INTO master_key_check(id, check_value, created_at, updated_at) "
                "VALUES (1, ?1, ?2, ?2)");
            ins.bind(1, value).bind(2, now);
            ins.run();
            const SecretBytes first = SecretBytes::random(crypto::kKeyBytes);
            insert_data_key(*db_, 1, crypto::wrap_key(master_.key, WrapPurpose::data_key, 1, first),
                            now);
            const SecretBytes root = SecretBytes::random(crypto::kKeyBytes);
            const WrappedKey w = crypto::wrap_key(master_.key, WrapPurpose::api_key_root, 1, root);
            Statement ins_root = db_->prepare(
                "INSERT INTO api_key_root(id, nonce, wrapped, created_at) VALUES (1, ?1, ?2, ?3)");
            ins_root.bind(1, w.nonce).bind(2, w.box).bind(3, now);
            ins_root.run();
        }
        tx.commit();
    }
    auto ring = load_keyring();
    if (!ring) throw StorageStartupError(ring.error().message);
    keyring_ = std::move(*ring);

    Statement root_st = db_->prepare("SELECT nonce, wrapped FROM api_key_root WHERE id = 1");
    if (!root_st.step())
        throw StorageStartupError("database " + where + " has no API-key root key");
    auto root = crypto::unwrap_key(master_.key, WrapPurpose::api_key_root, 1,
                                   wrapped_from(root_st, 0, 1));
    if (!root)
        throw StorageStartupError("the API-key root key in " + where +
                                  " does not unwrap with the master key from " + master_.source);
    api_hasher_ = std::make_unique<crypto::ApiKeyHasher>(*root);
}

Result<crypto::Keyring> SqlStorage::load_keyring() const {
    crypto::Keyring ring;
    Statement st = db_->prepare("SELECT key_id, nonce, wrapped, state FROM data_keys ORDER BY key_id");
    while (st.step()) {
        const auto id = static_cast<KeyId>(st.int64(0));
        auto key = crypto::unwrap_key(master_.key, WrapPurpose::data_key, id, wrapped_from(st, 1, 2));
        if (!key)
            return error(ErrorCode::crypto, "data key " + std::to_string(id) + " in " + db_->description() +
                                                " does not unwrap with the master key from " + master_.source +
                                                " (wrong master key, or the row was altered)");
        ring.add(id, std::move(*key));
        if (st.text(3) == "active") ring.set_active(id);
    }
    if (!ring.has_active())
        return error(ErrorCode::crypto, "database " + db_->description() + " has no active data key");
    return ring;
}

template <typename Opened, typename Open>
Result<Opened> SqlStorage::open_row_with(Open open) {
    auto opened = open(keyring_);
    if (!opened && opened.error().code == crypto::OpenFailure::unknown_key_id) {
        // Another process (`rollout-mcp keys rotate`) may have added a key since we loaded ours.
        auto ring = load_keyring();
        if (!ring) return ring.error();
        keyring_ = std::move(*ring);
        opened = open(keyring_);
    }
    if (!opened) return error(ErrorCode::crypto, opened.error().message);
    return std::move(*opened);
}

Result<SecretBytes> SqlStorage::open_row(const crypto::RowIdentity& row, KeyId key_id,
                                            std::span<const unsigned char> nonce,
                                            std::span<const unsigned char> ciphertext) {
    return open_row_with<SecretBytes>(
        [&](const crypto::Keyring& ring) { return crypto::open(ring, row, key_id, nonce, ciphertext); });
}

Result<crypto::WipedBuffer> SqlStorage::open_row_data(const crypto::RowIdentity& row, KeyId key_id,
                                                      std::span<const unsigned char> nonce,
                                                      std::span<const unsigned char> ciphertext) {
    return open_row_with<crypto::WipedBuffer>(
        [&](const crypto::Keyring& ring) { return crypto::open_data(ring, row, key_id, nonce, ciphertext); });
}

Result<KeyId> SqlStorage::follow_active_key() {
    auto st = db_->cached("SELECT key_id FROM data_keys WHERE state = 'active'");
    if (!st->step()) return error(ErrorCode::crypto, "the database has no active data key");
    const auto active = static_cast<KeyId>(st->int64(0));
    if (keyring_.has_active() && keyring_.active_id() == active) return active;
    auto ring = load_keyring();
    if (!ring) return ring.error();
    keyring_ = std::move(*ring);
    return active;
}

crypto::SealedSecret SqlStorage::seal_row(const crypto::RowIdentity& row,
                                             std::span<const unsigned char> plaintext) const {
    return crypto::seal(keyring_, row, plaintext);
}

Result<KeyStatus> SqlStorage::key_status() {
    return guarded<KeyStatus>("key status", [&]() -> Result<KeyStatus> {
        KeyStatus out;
        out.master_key_source = master_.source;
        Statement st = db_->prepare(
            "SELECT d.key_id, d.state, d.created_at, d.retired_at,"
            " (SELECT count(*) FROM rollout_configs r WHERE r.key_id = d.key_id),"
            " (SELECT count(*) FROM crm_connections c WHERE c.key_id = d.key_id),"
            " (SELECT count(*) FROM sync_jobs j WHERE j.key_id = d.key_id),"
            " (SELECT count(*) FROM sync_payloads p WHERE p.key_id = d.key_id)"
            " FROM data_keys d ORDER BY d.key_id");
        while (st.step()) {
            DataKeyStatus k{static_cast<KeyId>(st.int64(0)), st.text(1), st.int64(2),
                            st.optional_int64(3), st.int64(4), st.int64(5), st.int64(6), st.int64(7)};
            if (k.state == "active")
                out.active_key_id = k.key_id;
            else
                out.rows_to_reseal += k.rollout_configs + k.crm_connections + k.sync_jobs + k.sync_payloads;
            out.keys.push_back(std::move(k));
        }
        return out;
    });
}

Result<KeyId> SqlStorage::rotate_data_key() {
    return guarded<KeyId>("rotate data key", [&]() -> Result<KeyId> {
        Transaction tx(*db_);
        db_->lock_for_transaction("rollout-mcp data keys");
        auto ring = load_keyring();  // under the write lock: sees every key, including other processes'
        if (!ring) return ring.error();
        KeyId next = 1;
        for (KeyId id : ring->ids()) next = std::max(next, id + 1);
        SecretBytes key = SecretBytes::random(crypto::kKeyBytes);
        const std::int64_t now = now_seconds();
        Statement retire = db_->prepare(
            "UPDATE data_keys SET state = 'retired', retired_at = ?1 WHERE state = 'active'");
        retire.bind(1, now);
        retire.run();
        insert_data_key(*db_, next, crypto::wrap_key(master_.key, WrapPurpose::data_key, next, key), now);
        tx.commit();
        ring->add(next, std::move(key));
        ring->set_active(next);
        keyring_ = std::move(*ring);
        return next;
    });
}

Result<std::size_t> SqlStorage::destroy_unused_keys() {
    return guarded<std::size_t>("destroy unused keys", [&]() -> Result<std::size_t> {
        std::size_t n = 0;
        {
            Transaction tx(*db_);
            db_->exec(
                "DELETE FROM data_keys WHERE state = 'retired'"
                " AND key_id NOT IN (SELECT key_id FROM rollout_configs)"
                " AND key_id NOT IN (SELECT key_id FROM crm_connections)"
                // IS NOT NULL: newer jobs have no key of their own, and NOT IN over a NULL is never true.
                " AND key_id NOT IN (SELECT key_id FROM sync_jobs WHERE key_id IS NOT NULL)"
                " AND key_id NOT IN (SELECT key_id FROM sync_payloads)"
                " AND key_id NOT IN (SELECT key_id FROM event_subscriptions)");
            n = static_cast<std::size_t>(db_->changes());
            tx.commit();
        }
        auto ring = load_keyring();
        if (!ring) return ring.error();
        keyring_ = std::move(*ring);
        if (auto c = checkpoint(); !c) return c.error();
        return n;
    });
}

Result<void> SqlStorage::rewrap_master(crypto::MasterKey new_master) {
    if (new_master.key.size() != crypto::kKeyBytes)
        return error(ErrorCode::invalid_argument, "the new master key must be 32 bytes");
    return guarded<void>("rewrap master key", [&]() -> Result<void> {
        {
            Transaction tx(*db_);
            db_->lock_for_transaction("rollout-mcp data keys");
            auto ring = load_keyring();
            if (!ring) return ring.error();
            const std::int64_t now = now_seconds();
            Statement upd = db_->prepare("UPDATE data_keys SET nonce = ?2, wrapped = ?3 WHERE key_id = ?1");
            for (KeyId id : ring->ids()) {
                const WrappedKey w =
                    crypto::wrap_key(new_master.key, WrapPurpose::data_key, id, *ring->find(id));
                upd.bind(1, std::int64_t{id}).bind(2, w.nonce).bind(3, w.box);
                upd.run();
                upd.reset();
            }
            Statement root_st = db_->prepare("SELECT nonce, wrapped FROM api_key_root WHERE id = 1");
            if (!root_st.step())
                return error(ErrorCode::crypto, "database has no API-key root key");
            auto root = crypto::unwrap_key(master_.key, WrapPurpose::api_key_root, 1,
                                           wrapped_from(root_st, 0, 1));
            if (!root)
                return error(ErrorCode::crypto,
                                        "the API-key root key does not unwrap with the current master key");
            const WrappedKey wr = crypto::wrap_key(new_master.key, WrapPurpose::api_key_root, 1, *root);
            Statement upd_root = db_->prepare("UPDATE api_key_root SET nonce = ?1, wrapped = ?2 WHERE id = 1");
            upd_root.bind(1, wr.nonce).bind(2, wr.box);
            upd_root.run();
            Statement upd_check = db_->prepare(
                "UPDATE master_key_check SET check_value = ?1, updated_at = ?2 WHERE id = 1");
            upd_check.bind(1, crypto::master_key_check_value(new_master.key)).bind(2, now);
            upd_check.run();
            tx.commit();
            keyring_ = std::move(*ring);
        }
        master_ = std::move(new_master);
        // Old wrappings must not linger in WAL frames once the old master key is retired.
        return checkpoint();
    });
}

Result<void> SqlStorage::checkpoint() {
    // PostgreSQL recycles its own WAL; there is no file of ours to truncate.
    if (db_->dialect() == Dialect::postgresql) return {};
    return guarded<void>("checkpoint", [&]() -> Result<void> {
        Statement st = db_->prepare("PRAGMA wal_checkpoint(TRUNCATE)");
        if (st.step() && st.int64(0) != 0)
            return error(ErrorCode::busy, "checkpoint: a reader kept the WAL busy; retry");
        return {};
    });
}

}  // namespace rollout_mcp::storage
