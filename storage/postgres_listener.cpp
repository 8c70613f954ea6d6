#include "storage/postgres_listener.hpp"

#include "storage/postgres.hpp"

#include <libpq-fe.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

namespace rollout_mcp::storage {

struct PgListener::State {
    std::string url;
    Callback callback;
    PGconn* conn = nullptr;
    int stop_pipe[2] = {-1, -1};   // written once by the destructor: ends poll()
    std::thread thread;

    ~State() {
        if (conn != nullptr) PQfinish(conn);
        for (int fd : stop_pipe)
            if (fd >= 0) ::close(fd);
    }

    // A fresh connection that listens on every channel, or nullptr (the reason is not ours to log: no URL).
    PGconn* listen() const {
        PGconn* c = nullptr;
        try {
            c = open_pg_connection(url);
        } catch (const SqlError&) {
            return nullptr;
        }
        const std::string sql = "LISTEN " + std::string(kJobsQueuedChannel) + "; LISTEN " +
                                std::string(kJobAttemptChannel) + "; LISTEN " + std::string(kToolsChangedChannel) +
                                "; LISTEN " + std::string(kSessionEndedChannel);
        PGresult* r = PQexec(c, sql.c_str());
        const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            PQfinish(c);
            return nullptr;
        }
        return c;
    }

    // Waits for the stop pipe at most `ms` (or for ever with -1); true when asked to stop.
    bool stop_requested(int ms, int other_fd = -1) const {
        pollfd fds[2] = {{stop_pipe[0], POLLIN, 0}, {other_fd, POLLIN, 0}};
        const int n = ::poll(fds, other_fd >= 0 ? 2 : 1, ms);
        return n > 0 && (fds[0].revents & (POLLIN | POLLHUP)) != 0;
    }

    void run() {
        int pause_ms = 100;
        while (true) {
            if (conn == nullptr) {
                if (stop_requested(pause_ms)) return;
                conn = listen();
                if (conn == nullptr) {
                    pause_ms = std::min(pause_ms * 2, 5'000);
                    continue;
                }
                pause_ms = 100;
                callback("", "");   // notifications sent while we were away are lost: look again
            }
            if (stop_requested(-1, PQsocket(conn))) return;
            if (PQconsumeInput(conn) == 0) {   // the connection broke
                PQfinish(conn);
                conn = nullptr;
                continue;
            }
            while (PGnotify* n = PQnotifies(conn)) {
                callback(n->relname, n->extra != nullptr ? n->extra : "");
                PQfreemem(n);
            }
        }
    }
};

PgListener::PgListener(std::unique_ptr<State> state) : state_(std::move(state)) {}

std::unique_ptr<PgListener> PgListener::start(const std::string& url, Callback callback) {
    auto state = std::make_unique<State>();
    state->url = url;
    state->callback = std::move(callback);
    if (::pipe2(state->stop_pipe, O_CLOEXEC) != 0)
        throw SqlError(SqlError::Kind::other, "PostgreSQL listener: cannot create its stop pipe");
    state->conn = state->listen();
    if (state->conn == nullptr) {
        // Once more for the message: open_pg_connection's error names host and port, never the URL.
        PQfinish(open_pg_connection(url));
        throw SqlError(SqlError::Kind::connection, "PostgreSQL listener: LISTEN failed");
    }
    State* raw = state.get();
    state->thread = std::thread([raw] { raw->run(); });
    return std::unique_ptr<PgListener>(new PgListener(std::move(state)));
}

PgListener::~PgListener() {
    const char byte = 1;
    if (::write(state_->stop_pipe[1], &byte, 1) < 0) {
        // The thread then never wakes; closing the write end below makes poll() report POLLHUP instead.
    }
    ::close(state_->stop_pipe[1]);
    state_->stop_pipe[1] = -1;
    if (state_->thread.joinable()) state_->thread.join();
}

}  // namespace rollout_mcp::storage
