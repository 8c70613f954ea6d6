// MCP Events webhook delivery (see event_delivery.hpp). Standard Webhooks headers: https://www.standardwebhooks.com/;
// the verification challenge, X-MCP-Subscription-Id, 256 KiB and no retry on 410/413 follow ChatGPT's profile
// (https://developers.openai.com/plugins/build/mcp-events.md).
#include "server/sync/event_delivery.hpp"

#include "base/use_nothrow.hpp"
#include "server/app/log.hpp"
#include "server/app/metrics.hpp"
#include "server/sync/change_view.hpp"
#include "rollout/destination.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <set>

namespace rollout_mcp {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::chrono::milliseconds kLease{60'000};   // a claim; a round starts no POST after half of it
constexpr std::chrono::seconds kPostTimeout{10};       // one callback POST, connection included, at most
constexpr std::size_t kPage = 16;                      // changes read per step
// The last POST of a round starts before half the lease and ends within kPostTimeout, so it is recorded well before
// the lease ends and another instance may claim the subscription: no event goes out from two instances at once.
static_assert(kLease / 2 > std::chrono::milliseconds(kPostTimeout) * 2);

metrics::Family<metrics::Counter>& deliveries() {
    static auto& f = metrics::registry().counter(
        "rollout_mcp_event_deliveries_total",
        "MCP Events webhook POSTs by result: delivered, verified, retried, failed (given up), dropped (413 or over "
        "256 KiB), gone (410: subscription dropped), unverified (challenge given up: subscription dropped)",
        {"result"});
    return f;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string random_hex(std::size_t bytes) {
    std::vector<unsigned char> raw(bytes);
    randombytes_buf(raw.data(), raw.size());
    std::string hex(2 * bytes + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
    hex.pop_back();
    return hex;
}

enum class Answer { ok, gone, too_large, retry };

}  // namespace

struct EventDelivery::State : std::enable_shared_from_this<State> {
    State(StorageExecutor& s, EventSettings e, std::shared_ptr<rollout::HttpPool> p)
        : storage(s), settings(std::move(e)), pool(std::move(p)) {}
    StorageExecutor& storage;
    EventSettings settings;
    std::shared_ptr<rollout::HttpPool> pool;
    std::optional<asio::strand<asio::any_io_executor>> strand;
    std::optional<asio::steady_timer> timer;
    std::set<std::string> active;   // strand only: subscriptions this instance is delivering
    std::atomic<bool> stopping{false};

    // Equal jitter: half the capped exponential delay plus a random half, so retries are never immediate.
    std::int64_t backoff(std::int64_t attempts) const {
        const auto base = static_cast<std::int64_t>(settings.backoff_base.count());
        const auto cap = static_cast<std::int64_t>(settings.backoff_max.count());
        std::int64_t d = base;
        for (std::int64_t i = 1; i < attempts && d < cap; ++i) d *= 2;
        d = std::min(d, cap);
        return d / 2 + static_cast<std::int64_t>(randombytes_uniform(static_cast<std::uint32_t>(d / 2 + 1)));
    }

    // One signed POST. `expect_challenge`: a 2xx must echo it in {"challenge": ...}.
    // References: the caller's frame keeps them (GCC 12 mishandles temporaries inside co_await expressions).
    asio::awaitable<Answer> post(const storage::ClaimedSubscription& c, const std::string& message_id,
                                 const std::string& body, const std::string& expect_challenge) {
        const auto& sub = c.subscription;
        const std::int64_t ts = now_ms() / 1000;
        rollout::HttpRequest request;
        request.method = boost::beast::http::verb::post;
        request.url = sub.callback_url;   // checked at subscribe; the pool checks the address at every connection
        request.label = "events";
        request.partition = sub.tenant_id;
        request.headers = {{"webhook-id", message_id},
                           {"webhook-timestamp", std::to_string(ts)},
                           {"webhook-signature", webhook_signature(c.secret.view(), message_id, ts, body)},
                           {"X-MCP-Subscription-Id", sub.id}};
        request.body = body;
        auto response = co_await pool->send(std::move(request));
        if (!response) {
            log::warning("event delivery failed", {{"subscription", sub.id}, {"error", response.error().describe()}});
            co_return Answer::retry;
        }
        const unsigned status = response->status;
        if (status == 410) co_return Answer::gone;
        if (status == 413) co_return Answer::too_large;
        if (status < 200 || status >= 300) {
            log::warning("event delivery refused", {{"subscription", sub.id}, {"status", static_cast<std::int64_t>(status)}});
            co_return Answer::retry;
        }
        if (expect_challenge.empty()) co_return Answer::ok;
        boost::system::error_code ec;
        const auto reply = json::parse(response->body, ec);
        const auto* echoed = !ec && reply.is_object() ? reply.get_object().if_contains("challenge") : nullptr;
        const bool same = echoed && echoed->is_string() && echoed->get_string().size() == expect_challenge.size() &&
                          sodium_memcmp(echoed->get_string().data(), expect_challenge.data(), expect_challenge.size()) == 0;
        if (!same) log::warning("event callback did not echo the challenge", {{"subscription", sub.id}});
        co_return same ? Answer::ok : Answer::retry;
    }
};

namespace {

using StatePtr = std::shared_ptr<EventDelivery::State>;

// Records progress under the claim; false when the claim was lost (another instance has the subscription now).
// References throughout: the calling coroutine's frame keeps the arguments (see post()).
asio::awaitable<bool> record(const StatePtr& s, const std::string& id, std::int64_t token,
                             const storage::DeliveryProgress& p, bool release) {
    auto r = co_await s->storage.call(&storage::Storage::record_event_delivery, id, token, p, release);
    co_return r && *r;
}

asio::awaitable<void> drop(const StatePtr& s, const std::string& id, std::int64_t token, const char* why) {
    deliveries().with({why}).inc();
    log::info("event subscription dropped", {{"subscription", id}, {"reason", why}});
    auto r = co_await s->storage.call(&storage::Storage::drop_event_subscription, id, token);
    (void)r;
}

// One claimed round for subscription `id` (see event_delivery.hpp).
asio::awaitable<void> deliver(StatePtr s, std::string id) {
    struct Done {
        EventDelivery::State* s;
        std::string id;
        ~Done() { s->active.erase(id); }
    } done{s.get(), id};
    const std::int64_t start = now_ms();
    const std::int64_t lease_until = start + kLease.count();
    auto claimed = co_await s->storage.call(&storage::Storage::claim_event_subscription, id, start, lease_until);
    if (!claimed || !*claimed) co_return;
    const storage::ClaimedSubscription c = std::move(**claimed);
    const auto token = c.claim_token;
    const auto& tenant = c.subscription.tenant_id;
    storage::DeliveryProgress p{c.subscription.delivered_through, c.subscription.verified, c.subscription.attempts, 0};
    const auto max_attempts = static_cast<std::int64_t>(s->settings.max_attempts);
    const auto failed = [&](bool challenge) {   // a retryable failure: back off, or give up at max_attempts
        if (++p.attempts < max_attempts) {
            deliveries().with({"retried"}).inc();
            p.next_attempt_at_ms = now_ms() + s->backoff(p.attempts);
            return false;
        }
        if (!challenge) {
            deliveries().with({"failed"}).inc();
            log::warning("event given up", {{"subscription", id}, {"attempts", p.attempts}});
        }
        p.attempts = 0;
        return true;   // given up
    };
    // The claim itself may have waited on a busy store: the half-lease rule holds for the challenge POST too.
    if (now_ms() >= start + kLease.count() / 2) {
        co_await record(s, id, token, p, true);
        co_return;
    }
    if (!p.verified) {
        const std::string challenge = random_hex(16);
        const std::string body = json::serialize(json::object{
            {"type", "verification"}, {"challenge", challenge}, {"subscriptionId", id}});
        const std::string message_id = "msg_" + random_hex(12);
        const Answer a = co_await s->post(c, message_id, body, challenge);
        if (a == Answer::gone) {
            co_await drop(s, id, token, "gone");
            co_return;
        }
        if (a != Answer::ok) {
            if (failed(true)) {
                co_await drop(s, id, token, "unverified");
                co_return;
            }
            co_await record(s, id, token, p, true);
            co_return;
        }
        deliveries().with({"verified"}).inc();
        p.verified = true;
        p.attempts = 0;
        if (!co_await record(s, id, token, p, false)) co_return;
    }
    const std::string no_challenge;
    while (!s->stopping && now_ms() < start + kLease.count() / 2) {
        auto page = co_await s->storage.call(&storage::Storage::list_crm_changes, tenant,
                                             std::optional<std::int64_t>(p.delivered_through), kPage);
        if (!page || page->changes.empty()) break;
        for (const auto& change : page->changes) {
            if (now_ms() >= start + kLease.count() / 2) break;   // checked before every POST, not every page
            auto event = change_event(change);
            event["subscriptionId"] = id;
            std::string body = json::serialize(event);
            Answer a = Answer::too_large;
            if (body.size() <= kMaxEventBytes) a = co_await s->post(c, change.id, body, no_challenge);
            if (a == Answer::gone) {
                co_await drop(s, id, token, "gone");
                co_return;
            }
            if (a == Answer::retry && !failed(false)) {
                co_await record(s, id, token, p, true);
                co_return;
            }
            if (a == Answer::ok) deliveries().with({"delivered"}).inc();
            if (a == Answer::too_large) deliveries().with({"dropped"}).inc();
            p.delivered_through = change.seq;
            p.attempts = 0;
            p.next_attempt_at_ms = 0;
            if (!co_await record(s, id, token, p, false)) co_return;
            if (s->stopping) break;
        }
    }
    co_await record(s, id, token, p, true);
}

asio::awaitable<void> scan_loop(StatePtr s) {
    while (!s->stopping) {
        auto due = co_await s->storage.call(&storage::Storage::due_event_subscriptions, now_ms(), std::size_t{64});
        if (!due) log::warning("cannot list event subscriptions", {{"error", due.error().message}});
        if (due)
            for (const auto& id : *due)
                if (s->active.insert(id).second) asio::co_spawn(*s->strand, deliver(s, id), asio::detached);
        s->timer->expires_after(s->settings.poll);
        co_await s->timer->async_wait(use_nothrow);
    }
}

}  // namespace

EventDelivery::EventDelivery(StorageExecutor& storage, EventSettings settings, std::shared_ptr<rollout::HttpPool> pool)
    : state_(std::make_shared<State>(storage, std::move(settings), std::move(pool))) {}

EventDelivery::~EventDelivery() { stop(); }

void EventDelivery::start(asio::any_io_executor io) {
    state_->strand.emplace(asio::make_strand(io));
    state_->timer.emplace(*state_->strand);
    asio::co_spawn(*state_->strand, scan_loop(state_), asio::detached);
}

void EventDelivery::stop() {
    state_->stopping = true;
    wake();
}

void EventDelivery::wake() {
    if (!state_->strand) return;
    asio::post(*state_->strand, [s = state_] { s->timer->cancel(); });
}

Result<void> check_callback_url(std::string_view url, const std::vector<std::string>& allowed_origins) {
    if (url.size() > 2048) return invalid_argument("callbackUrl: longer than 2048 bytes");
    const auto authority_end = url.find_first_of("/?#", url.find("://") == std::string_view::npos ? 0 : url.find("://") + 3);
    if (url.substr(0, authority_end).find('@') != std::string_view::npos || url.find('#') != std::string_view::npos)
        return invalid_argument("callbackUrl: no userinfo or fragment allowed");
    auto endpoint = rollout::parse_endpoint(url);
    if (!endpoint) return invalid_argument("callbackUrl: " + endpoint.error().message);
    if (std::find(allowed_origins.begin(), allowed_origins.end(), endpoint->key()) != allowed_origins.end()) return {};
    if (!endpoint->tls)
        return invalid_argument("callbackUrl: must be https to a public address ([events] allowed_callback_origins "
                                "lists the exceptions)");
    boost::system::error_code ec;
    const auto literal = asio::ip::make_address(endpoint->host, ec);
    if (!ec && !rollout::is_public_address(literal))
        return invalid_argument("callbackUrl: " + endpoint->key() + " is not a public address ([events] "
                                "allowed_callback_origins lists the exceptions)");
    return {};
}

std::shared_ptr<rollout::HttpPool> make_event_pool(const EventSettings& settings, std::string extra_ca_pem) {
    rollout::HttpOptions http;
    http.timeout = kPostTimeout;
    http.allowed_origins = settings.allowed_callback_origins;
    http.max_response_bytes = 64 * 1024;
    http.max_concurrent_per_host = 16;
    http.extra_ca_pem = std::move(extra_ca_pem);
    return rollout::HttpPool::create(std::move(http));
}

}  // namespace rollout_mcp
