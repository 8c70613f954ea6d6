// Helpers for the rollout/ tests: run a coroutine to completion on a private io_context, build a RolloutClient
// whose every host points at a ScriptedRollout, and start the fake Rollout emulating a CRM.
#pragma once

#include "rollout/client.hpp"
#include "scripted_rollout.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <string>

namespace rollout_mcp::rollout::test {

// One io_context for the whole test binary: pooled connections stay bound to the context that opened
// them, so pools must never outlive it (a real server has one io_context for its lifetime too).
inline boost::asio::io_context& test_ioc() {
    static boost::asio::io_context ioc;
    return ioc;
}

template <class T>
T run_sync(boost::asio::awaitable<T> aw, std::chrono::seconds limit = std::chrono::seconds{30}) {
    auto& ioc = test_ioc();
    auto fut = boost::asio::co_spawn(ioc, std::move(aw), boost::asio::use_future);
    const auto until = std::chrono::steady_clock::now() + limit;
    while (fut.wait_for(std::chrono::seconds{0}) != std::future_status::ready &&
           std::chrono::steady_clock::now() < until) {
        ioc.restart();
        ioc.run_one_for(std::chrono::milliseconds{50});
    }
    return fut.get();
}

// Runs every spawned coroutine of `spawn(ioc)` until all are done.
inline void run_all(std::chrono::seconds limit = std::chrono::seconds{30}) {
    auto& ioc = test_ioc();
    ioc.restart();
    ioc.run_for(limit);
}

inline std::shared_ptr<TokenSource> test_auth(std::string secret = "test-secret") {
    return std::make_shared<TokenSource>(TokenSource::minted({"client-1", std::move(secret), "team-1"}));
}

// The fake Rollout emulating a CRM (records stored per credential, as tests/fakes/README.md describes), checking
// the JWTs test_auth() mints; add a credential for "team-1" to call it.
inline std::unique_ptr<fake::FakeRollout> emulated_rollout() {
    fake::Options options;
    options.client_secret = "test-secret";
    auto rollout = std::make_unique<fake::FakeRollout>(options);
    rollout->start();
    return rollout;
}

inline ClientConfig config_for(const std::string& base, std::shared_ptr<TokenSource> auth = test_auth()) {
    ClientConfig c;
    c.endpoints = RolloutEndpoints::all_at(base);
    c.auth = std::move(auth);
    return c;
}

// `reachable`: base URLs of the loopback stubs the test calls. Loopback is not a public address, so the
// pool refuses it unless its origin is listed, as the operator lists [rollout] allowed_base_urls.
inline HttpOptions fast_options(std::initializer_list<std::string> reachable = {}) {
    HttpOptions o;
    o.timeout = std::chrono::milliseconds{3000};
    o.use_system_ca = false;
    for (const auto& url : reachable) {
        auto origin = origin_of(url);
        EXPECT_TRUE(origin) << url;
        if (origin) o.allowed_origins.push_back(*origin);
    }
    return o;
}

inline boost::json::value J(const char* text) { return boost::json::parse(text); }

}  // namespace rollout_mcp::rollout::test
