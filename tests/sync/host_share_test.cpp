// Fair outbound capacity end to end: with [rollout] max_concurrent_per_host = 4 and one team flooding the
// outbox, another team's syncs complete within twice their unloaded time, measured in the same test (a
// ratio, not a clock bound). The flooding team holds at most its share (0.25 x 4 = 1) of the host's slots.
#include "sync_harness.hpp"

#include <gtest/gtest.h>

namespace rollout_mcp::sync_test {
namespace {
using Clock = std::chrono::steady_clock;

TEST(HostShare, AnotherTeamsSyncsStayFastWhileOneTeamFloods) {
    Harness::Options o;
    o.max_concurrent_per_host = 4;
    o.fake_latency = std::chrono::milliseconds(30);
    o.rollout_timeout = std::chrono::milliseconds(30'000);
    Harness h(o);
    const auto flooder = h.add_team("flooder"), other = h.add_team("other");
    h.start();
    int seq = 0;
    // B's four tours (new buyers), enqueued together; the time until all four succeeded.
    auto run_b = [&] {
        std::vector<std::string> ids;
        const auto start = Clock::now();
        for (int i = 0; i < 4; ++i) {
            const auto n = std::to_string(++seq);
            auto more = h.enqueue_tour(other, make_tour("B-T" + n, "b" + n, 1));
            ids.insert(ids.end(), more.begin(), more.end());
        }
        for (const auto& id : ids) {
            auto j = h.wait_finished(other, id, std::chrono::seconds(60));
            EXPECT_EQ(j.status, storage::JobStatus::succeeded) << j.last_error;
        }
        return Clock::now() - start;
    };
    const auto unloaded = run_b();
    std::vector<std::string> flood;
    for (int i = 0; i < 150; ++i) {
        auto more = h.enqueue_tour(flooder, make_tour("A-T" + std::to_string(i), "a" + std::to_string(i), 2));
        flood.insert(flood.end(), more.begin(), more.end());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));   // the flood is in full swing
    const auto loaded = run_b();
    const auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
    EXPECT_LT(ms(loaded), 2 * ms(unloaded)) << "unloaded " << ms(unloaded) << " ms, under the flood " << ms(loaded) << " ms";
    // The flooder is still at it (its backlog is far from done) and never held more than its share.
    EXPECT_NE(h.job(flooder, flood.back()).status, storage::JobStatus::succeeded);
    std::cout << "[ host share ] other team's 4 syncs: unloaded " << ms(unloaded) << " ms, flooded " << ms(loaded)
              << " ms\n";
}

}  // namespace
}  // namespace rollout_mcp::sync_test
