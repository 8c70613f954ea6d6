#include "storage/postgres.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <cstring>

namespace rollout_mcp::storage {
namespace {

constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kByteaOid = 17;

// SQLSTATE classes: https://www.postgresql.org/docs/15/errcodes-appendix.html
SqlError::Kind kind_of(const char* sqlstate) {
    const std::string_view s = sqlstate == nullptr ? std::string_view() : std::string_view(sqlstate);
    if (s == "23505") return SqlError::Kind::unique;
    if (s == "23503") return SqlError::Kind::foreign_key;
    if (s == "23514") return SqlError::Kind::check;
    if (s == "23502") return SqlError::Kind::not_null;
    // serialization failure, deadlock detected, lock not available, query cancelled (statement_timeout)
    if (s == "40001" || s == "40P01" || s == "55P03" || s == "57014") return SqlError::Kind::busy;
    if (s.starts_with("08") || s == "57P01" || s == "57P02" || s == "57P03") return SqlError::Kind::connection;
    return SqlError::Kind::other;
}

// The primary message only: DETAIL lines may quote row values (a duplicate key's value).
[[noreturn]] void fail(PGconn* conn, const PGresult* res, std::string_view context) {
    std::string msg(context);
    msg += ": ";
    const char* primary = res != nullptr ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    if (primary != nullptr) {
        msg += primary;
    } else {
        std::string text = PQerrorMessage(conn);
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
        msg += text.empty() ? "connection lost" : text;
    }
    const SqlError::Kind kind = res != nullptr && PQresultErrorField(res, PG_DIAG_SQLSTATE) != nullptr
                                    ? kind_of(PQresultErrorField(res, PG_DIAG_SQLSTATE))
                                    : SqlError::Kind::connection;
    throw SqlError(PQstatus(conn) == CONNECTION_BAD ? SqlError::Kind::connection : kind, msg);
}

struct ResultDeleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

void check_command(PGconn* conn, const ResultPtr& res, std::string_view context) {
    const ExecStatusType status = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(conn, res.get(), context);
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

class PgStatement final : public StatementImpl {
public:
    PgStatement(PgDatabase& db, std::string sql) : db_(db), sql_(std::move(sql)) {}

    void bind(int index, std::int64_t value) override { set(index, std::to_string(value), kInt8Oid, 0); }
    void bind(int index, std::string_view value) override { set(index, std::string(value), kTextOid, 0); }
    void bind(int index, std::span<const unsigned char> value) override {
        set(index, std::string(reinterpret_cast<const char*>(value.data()), value.size()), kByteaOid, 1);
    }
    void bind_null(int index) override {
        slot(index);
        params_[index - 1] = Param{std::nullopt, 0, 0};
    }

    bool step() override {
        if (!result_) execute();
        if (row_ + 1 >= PQntuples(result_.get())) {
            row_ = PQntuples(result_.get());
            return false;
        }
        ++row_;
        return true;
    }
    void reset() noexcept override {
        result_.reset();
        row_ = -1;
        params_.clear();
    }

    bool is_null(int column) const override { return PQgetisnull(result_.get(), row_, column) != 0; }
    std::int64_t int64(int column) const override {
        const char* v = PQgetvalue(result_.get(), row_, column);
        const std::size_t n = static_cast<std::size_t>(PQgetlength(result_.get(), row_, column));
        if (n == 1 && (*v == 't' || *v == 'f')) return *v == 't' ? 1 : 0;   // a boolean expression
        std::int64_t out = 0;
        std::from_chars(v, v + n, out);   // NULL reads as "" -> 0, as in SQLite
        return out;
    }
    std::string text(int column) const override {
        return std::string(PQgetvalue(result_.get(), row_, column),
                           static_cast<std::size_t>(PQgetlength(result_.get(), row_, column)));
    }
    // bytea arrives in hex ("\x0a1b..."; bytea_output is set to hex on connect).
    std::vector<unsigned char> blob(int column) const override {
        const std::string_view v(PQgetvalue(result_.get(), row_, column),
                                 static_cast<std::size_t>(PQgetlength(result_.get(), row_, column)));
        std::vector<unsigned char> out;
        if (v.size() < 2 || v[0] != '\\' || v[1] != 'x') return out;
        out.reserve((v.size() - 2) / 2);
        for (std::size_t i = 2; i + 1 < v.size(); i += 2) {
            const int hi = hex_value(v[i]), lo = hex_value(v[i + 1]);
            if (hi < 0 || lo < 0) break;
            out.push_back(static_cast<unsigned char>(hi * 16 + lo));
        }
        return out;
    }

private:
    // A parameter never bound is a text NULL: SQL that numbers from ?2 leaves ?1 unused, and PostgreSQL must
    // still be told a type for it. bind_null leaves the type to PostgreSQL (from the context it is used in).
    struct Param {
        std::optional<std::string> value;
        Oid type = kTextOid;
        int format = 0;
    };
    void slot(int index) {
        if (index < 1 || index > 1000) throw SqlError(SqlError::Kind::other, "bind: parameter index out of range");
        if (params_.size() < static_cast<std::size_t>(index)) params_.resize(static_cast<std::size_t>(index));
    }
    void set(int index, std::string value, Oid type, int format) {
        slot(index);
        params_[index - 1] = Param{std::move(value), type, format};
    }

    void execute() {
        std::vector<const char*> values;
        std::vector<Oid> types;
        std::vector<int> lengths, formats;
        for (const Param& p : params_) {
            values.push_back(p.value ? p.value->data() : nullptr);
            types.push_back(p.type);
            lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
            formats.push_back(p.format);
        }
        PGconn* conn = db_.connection();
        result_.reset(PQexecParams(conn, sql_.c_str(), static_cast<int>(params_.size()), types.data(), values.data(),
                                   lengths.data(), formats.data(), 0));
        try {
            check_command(conn, result_, "statement");
        } catch (...) {
            result_.reset();   // the next step() sends it again
            throw;
        }
        row_ = -1;
        db_.record_changes(result_.get());
    }

    PgDatabase& db_;
    std::string sql_;
    std::vector<Param> params_;
    ResultPtr result_;
    int row_ = -1;
};

void ignore_notice(void*, const char*) {}

}  // namespace

std::string postgres_parameters(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    char quote = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (quote != 0) {
            if (c == quote) quote = 0;   // '' inside a string closes and reopens: same result
        } else if (c == '\'' || c == '"') {
            quote = c;
        } else if (c == '-' && i + 1 < in.size() && in[i + 1] == '-') {
            const std::size_t end = in.find('\n', i);
            const std::size_t stop = end == std::string_view::npos ? in.size() : end;
            out.append(in.substr(i, stop - i));
            i = stop - 1;
            continue;
        } else if (c == '?' && i + 1 < in.size() && in[i + 1] >= '0' && in[i + 1] <= '9') {
            out.push_back('$');
            continue;
        }
        out.push_back(c);
    }
    return out;
}

PgDatabase::PgDatabase(PGconn* conn, std::string url) : conn_(conn), url_(std::move(url)) {}

PgDatabase::~PgDatabase() {
    clear_statement_cache();
    PQfinish(conn_);
}

namespace {
// Session settings every statement relies on: hex bytea output, UTC, UTF-8; bounded waits so a stuck lock or a
// lost peer never pins the storage thread for good.
void configure(PGconn* conn) {
    PQsetNoticeProcessor(conn, ignore_notice, nullptr);
    ResultPtr r(PQexec(conn,
                       "SET bytea_output = 'hex'; SET TimeZone = 'UTC'; SET client_encoding = 'UTF8';"
                       " SET statement_timeout = '30s'; SET lock_timeout = '10s';"
                       " SET idle_in_transaction_session_timeout = '60s'"));
    check_command(conn, r, "configure the PostgreSQL session");
}

}  // namespace

PGconn* open_pg_connection(const std::string& url) {
    // libpq's own parse errors quote the URL, password included: check it first and say only that it is wrong.
    char* parse_error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &parse_error);
    if (parse_error != nullptr) PQfreemem(parse_error);
    if (parsed == nullptr)
        throw SqlError(SqlError::Kind::connection,
                       "the PostgreSQL URL ([storage] postgresql_url or ROLLOUT_MCP_STORAGE_POSTGRESQL_URL) is not a "
                       "valid libpq connection string");
    std::string password;
    for (const PQconninfoOption* o = parsed; o->keyword != nullptr; ++o)
        if (std::string_view(o->keyword) == "password" && o->val != nullptr) password = o->val;
    PQconninfoFree(parsed);
    // Defaults first: the URL's own parameters (expanded from dbname) override them. Keepalives end a connection
    // whose peer vanished (a fail-over, a dropped NAT entry) instead of waiting on it for ever.
    const char* keys[] = {"application_name", "connect_timeout", "keepalives_idle", "keepalives_interval",
                          "keepalives_count", "tcp_user_timeout", "dbname", nullptr};
    const char* values[] = {"rollout-mcp", "10", "30", "10", "3", "60000", url.c_str(), nullptr};
    PGconn* conn = PQconnectdbParams(keys, values, 1);
    if (conn == nullptr) throw SqlError(SqlError::Kind::connection, "cannot allocate a PostgreSQL connection");
    if (PQstatus(conn) != CONNECTION_OK) {
        std::string msg = PQerrorMessage(conn);
        PQfinish(conn);
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
        for (const std::string& secret : {url, password})   // never in a log, whatever libpq chose to quote
            for (std::size_t at; !secret.empty() && (at = msg.find(secret)) != std::string::npos;)
                msg.replace(at, secret.size(), "<redacted>");
        throw SqlError(SqlError::Kind::connection, "cannot connect to the PostgreSQL database: " + msg);
    }
    try {
        configure(conn);
    } catch (...) {
        PQfinish(conn);
        throw;
    }
    return conn;
}

std::unique_ptr<PgDatabase> PgDatabase::connect(const std::string& url) {
    return std::unique_ptr<PgDatabase>(new PgDatabase(open_pg_connection(url), url));
}

PGconn* PgDatabase::connection() {
    if (PQstatus(conn_) == CONNECTION_OK) return conn_;
    // Reconnecting inside a transaction would run its remaining statements outside it.
    if (in_transaction_)
        throw SqlError(SqlError::Kind::connection, "the PostgreSQL connection broke inside a transaction");
    // The cached statements stay: they hold text and parameters only (no server-side state), and one of them may
    // be the statement asking for this connection.
    PGconn* fresh = open_pg_connection(url_);
    PQfinish(conn_);
    conn_ = fresh;
    return conn_;
}

void PgDatabase::exec(const char* sql) {
    PGconn* conn = connection();
    ResultPtr r(PQexec(conn, sql));
    check_command(conn, r, "exec");
    record_changes(r.get());
}

void PgDatabase::record_changes(const PGresult* result) noexcept {
    // SQLite's changes() counts only INSERT, UPDATE and DELETE; a SELECT leaves it alone.
    if (std::string_view(PQcmdStatus(const_cast<PGresult*>(result))).starts_with("SELECT")) return;
    const char* tuples = PQcmdTuples(const_cast<PGresult*>(result));
    std::int64_t n = 0;
    std::from_chars(tuples, tuples + std::strlen(tuples), n);
    changes_ = n;
}

Statement PgDatabase::prepare(std::string_view sql) {
    return Statement(std::make_unique<PgStatement>(*this, postgres_parameters(sql)));
}

void PgDatabase::begin() {
    exec("BEGIN");
    in_transaction_ = true;
}

void PgDatabase::commit() {
    PGconn* conn = conn_;
    ResultPtr r(PQexec(conn, "COMMIT"));
    in_transaction_ = false;
    check_command(conn, r, "commit");
    // COMMIT of a transaction that failed earlier answers ROLLBACK: nothing was written.
    if (std::string_view(PQcmdStatus(r.get())) == "ROLLBACK")
        throw SqlError(SqlError::Kind::other, "commit: the transaction had failed and was rolled back");
}

void PgDatabase::begin_unsynced() {
    begin();
    try {
        exec("SET LOCAL synchronous_commit TO OFF");
    } catch (...) {
        rollback();   // the Transaction that called this is not constructed: nobody else would end it
        throw;
    }
}

void PgDatabase::rollback() noexcept {
    in_transaction_ = false;
    if (PQstatus(conn_) != CONNECTION_OK) return;
    PQclear(PQexec(conn_, "ROLLBACK"));
}

void PgDatabase::lock_for_transaction(std::string_view scope) {
    Statement st = prepare("SELECT pg_advisory_xact_lock(hashtextextended(?1, 0))");
    st.bind(1, scope);
    st.run();
}

}  // namespace rollout_mcp::storage
