// The CPU of one Rollout call on our side, without the network: building the outbound request (the checked
// builder every call goes through, rollout/outbound_request.hpp) with the headers a CRM write carries, and
// reading the reply (Beast's HTTP parser, then the JSON body, as rollout/http_pool.cpp and RolloutClient do), and
// one page of a marker-tag search through a CRM's people, parsed or only outlined (rollout/list_outline.hpp).
// README "Sync path CPU" records the figures.
#include "rollout/destination.hpp"
#include "rollout/list_outline.hpp"
#include "rollout/outbound_request.hpp"

#include <benchmark/benchmark.h>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <string>

namespace {

using namespace rollout_mcp;
namespace http = boost::beast::http;

// A HighLevel appointment as the adapter writes one (about 600 bytes of JSON).
std::string appointment_body() {
    boost::json::object o{{"title", "Showing: 12 Elm Street, Springfield"},
                          {"startTime", "2026-12-08T15:00:00.000Z"},
                          {"endTime", "2026-12-08T15:30:00.000Z"},
                          {"contactId", "p_0123456789abcdef"},
                          {"appointmentTypeId", "at_0123456789"},
                          {"location", "12 Elm Street, Springfield, IL 62704"},
                          {"description", "Tour T-123 stop 1 of 2. Agent: agent@example.com. Notes: buyer wants a yard, "
                                          "asks about schools and the HOA."},
                          {"tags", boost::json::array{"reanna", "rmcp:t_0123456789abcdef01234567:visit:T-123:P-1"}}};
    return boost::json::serialize(o);
}

void BM_BuildWriteRequest(benchmark::State& state) {
    const auto endpoint = rollout::parse_endpoint("https://crm.rollout.com/api/appointments").value();
    const std::string body = appointment_body();
    const std::string bearer = "Bearer " + std::string(420, 'j');   // an HS512 JWT is about this long
    for (auto _ : state) {
        rollout::HttpRequest req;
        req.method = http::verb::post;
        req.url = "https://crm.rollout.com/api/appointments";
        req.partition = "t_0123456789abcdef01234567";
        req.headers.emplace_back("Authorization", bearer);
        req.headers.emplace_back("X-Rollout-Credential-Id", "cred_0123456789abcdef");
        req.headers.emplace_back("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        req.body = body;
        benchmark::DoNotOptimize(rollout::build_request_bytes(req, endpoint));
    }
}
BENCHMARK(BM_BuildWriteRequest);

// The reply to that write: status line, headers and the created record, parsed from the bytes as read.
void BM_ParseWriteReply(benchmark::State& state) {
    std::string record = appointment_body();
    record.insert(1, R"("id":"ap_0123456789abcdef","createdAt":"2026-12-07T10:00:00.000Z",)");
    const std::string wire = "HTTP/1.1 201 Created\r\nContent-Type: application/json; charset=utf-8\r\n"
                             "Date: Mon, 07 Dec 2026 10:00:00 GMT\r\nConnection: keep-alive\r\n"
                             "X-RateLimit-Remaining: 49\r\nContent-Length: " + std::to_string(record.size()) +
                             "\r\n\r\n" + record;
    for (auto _ : state) {
        http::response_parser<http::string_body> parser;
        parser.body_limit(8 * 1024 * 1024);
        boost::system::error_code ec;
        std::size_t used = 0;   // the header first, then the body, as a read loop hands them over
        while (!ec && !parser.is_done()) used += parser.put(boost::asio::buffer(wire.data() + used, wire.size() - used), ec);
        auto reply = parser.release();
        // Arg 0: the default allocator, as RolloutClient::parse_reply parses; 1: into one arena per reply.
        boost::json::storage_ptr storage;
        if (state.range(0) == 1)
            storage = boost::json::make_shared_resource<boost::json::monotonic_resource>(reply.body().size() * 2 + 512);
        auto value = boost::json::parse(reply.body(), ec, std::move(storage));
        benchmark::DoNotOptimize(value.as_object().if_contains("id"));
    }
}
BENCHMARK(BM_ParseWriteReply)->Arg(0)->Arg(1);

// A page of 100 people (about 24 KiB) that does not hold the searched tag. Arg 0: parsed, as every page was;
// 1: read in outline (items array, next cursor, every string compared with the tag), as for_each_page does now.
void BM_TagSearchPage(benchmark::State& state) {
    boost::json::array people;
    for (int i = 0; i < 100; ++i)
        people.push_back(boost::json::object{
            {"id", "p_" + std::to_string(1000 + i)}, {"firstName", "Buyer"}, {"lastName", std::to_string(i)},
            {"emails", boost::json::array{boost::json::object{{"value", "buyer." + std::to_string(i) + "@example.com"}}}},
            {"phones", boost::json::array{boost::json::object{{"value", "+1 512 555 0142"}}}},
            {"tags", boost::json::array{"reanna", "reanna:t_0123456789abcdef01234567:buyer:buyer-" + std::to_string(i)}},
            {"createdAt", "2026-12-07T10:00:00.000Z"}});
    const std::string page = boost::json::serialize(boost::json::object{
        {"_metadata", boost::json::object{{"collection", "people"}, {"next", "b2Zmc2V0OjEwMA"}}}, {"people", people}});
    const std::string tag = "reanna:t_0123456789abcdef01234567:buyer:buyer-1000";
    state.counters["page_bytes"] = static_cast<double>(page.size());
    for (auto _ : state) {
        rollout::ListOutline outline;
        if (state.range(0) == 1 && rollout::read_list_outline(page, tag, outline) == rollout::OutlineRead::outlined) {
            benchmark::DoNotOptimize(outline.next);
        } else {
            boost::system::error_code ec;
            auto value = boost::json::parse(page, ec);
            benchmark::DoNotOptimize(value.as_object().if_contains("_metadata"));
        }
    }
}
BENCHMARK(BM_TagSearchPage)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
