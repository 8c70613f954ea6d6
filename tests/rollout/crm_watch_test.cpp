// What we watch in CRM records and how their changes are classified (rollout/crm_watch.hpp): every branch of
// watched_state, observe_change, note_added and record_updated_ms, and hostile records (wrong JSON types in every
// field, huge strings, missing fields) that must give an answer without throwing.
#include "rollout/crm_watch.hpp"
#include "test_support.hpp"

#include <boost/json/serialize.hpp>

namespace rollout_mcp::rollout::test {
namespace {
namespace json = boost::json;

json::object O(const char* text) { return J(text).as_object(); }

std::string kinds_of(const std::vector<ObservedChange>& changes) {
    std::string out;
    for (const auto& c : changes) out += (out.empty() ? "" : ",") + c.kind;
    return out;
}

const char* kAppointment = R"({"id":"appointment-1","personId":"person-1","title":"Showing: 1 Main St",
    "startsAt":"2026-03-01T14:00:00-06:00","endsAt":"2026-03-01T14:45:00-06:00","status":"Scheduled",
    "created":"2026-02-01T10:00:00.000Z","updated":"2026-02-02T10:00:00.250Z"})";

TEST(CrmWatch, PersonStateNormalizesContactsAndOmitsTheRest) {
    const auto person = O(R"({"id":"p-1","name":"Ann Lee","firstName":"Ann","lastName":"Lee","tags":["reanna"],
        "emails":[{"value":"b@Y.io","type":"work"},{"value":"Ann@X.com","isPrimary":true},{"value":"ann@x.com"},{"value":""}],
        "phones":[{"value":"+1 (512) 555-0100"},"512.555.0199",{"value":"ext."}]})");
    EXPECT_EQ(watched_state("person", person),
              R"({"firstName":"Ann","lastName":"Lee","emails":["ann@x.com","b@y.io"],"phones":["15125550100","5125550199"]})");
    EXPECT_EQ(watched_state("person", O(R"({"firstName":"Ann","emails":[],"phones":[{"value":"-"}]})")),
              R"({"firstName":"Ann"})");
    EXPECT_EQ(watched_state("person", json::object{}), "{}");
}

TEST(CrmWatch, VisitAndNoteStatesKeepTheirWatchedFieldsInOrder) {
    auto appointment = O(kAppointment);
    appointment["appointmentOutcomeId"] = 42;
    appointment["outcome"] = json::object{{"id", 42}, {"name", "Showed"}};
    EXPECT_EQ(watched_state("appointment", appointment),
              R"({"startsAt":"2026-03-01T14:00:00-06:00","endsAt":"2026-03-01T14:45:00-06:00","status":"Scheduled",)"
              R"("outcome":"Showed","appointmentOutcomeId":"42"})");
    EXPECT_EQ(watched_state("appointment", O(R"({"outcome":"No show","startsAt":1772395200000})")),
              R"({"startsAt":1772395200000,"outcome":"No show"})");
    EXPECT_EQ(watched_state("task", O(R"({"isCompleted":false,"dueDateTime":"2026-03-01T20:00:00Z","name":"Showing",
        "personId":"p-1"})")),
              R"({"name":"Showing","dueDateTime":"2026-03-01T20:00:00Z","isCompleted":false})");
    EXPECT_EQ(watched_state("note", O(R"({"body":"b","subject":"s","isHtml":false})")), R"({"subject":"s","body":"b"})");
    EXPECT_EQ(watched_state("event", O(kAppointment)), "");
    EXPECT_EQ(watched_state("", O(kAppointment)), "");
    EXPECT_EQ(watched_state("Person", O(kAppointment)), "");
}

TEST(CrmWatch, MistypedFieldsCountAsAbsent) {
    const auto hostile = O(R"({"firstName":7,"lastName":null,"emails":{"value":"a@b.c"},"phones":"5125550100",
        "startsAt":true,"endsAt":{"at":1},"status":["cancelled"],"outcome":{"name":{"name":"Showed"}},
        "appointmentOutcomeId":1.5,"name":[],"dueDateTime":-1.5e300,"isCompleted":"true","subject":{},"body":3,
        "updated":"yesterday","created":{}})");
    for (const char* kind : {"person", "appointment", "task", "note"}) {
        SCOPED_TRACE(kind);
        EXPECT_EQ(watched_state(kind, hostile), "{}");
        EXPECT_TRUE(observe_change(kind, "{}", &hostile).empty());
    }
    EXPECT_EQ(watched_state("person", O(R"({"emails":[1,null,[],{"value":7},{"valu":"x@y.z"},"Plain@Text.io"]})")),
              R"({"emails":["plain@text.io"]})");
    EXPECT_EQ(watched_state("appointment", O(R"({"outcome":{"name":"Done"},"appointmentOutcomeId":""})")),
              R"({"outcome":"Done"})");
    EXPECT_EQ(watched_state("appointment", O(R"({"appointmentOutcomeId":18446744073709551615})")),
              R"({"appointmentOutcomeId":"18446744073709551615"})");
    EXPECT_EQ(record_updated_ms(hostile), 0);
}

TEST(CrmWatch, HugeValuesAreCutOnACharacterBoundary) {
    std::string huge(1 << 20, 'a');
    huge[4095] = '\xC3';   // "é" straddling the 4096-byte cut
    huge[4096] = '\xA9';
    json::object person{{"firstName", huge}, {"emails", json::array{}}};
    for (int i = 0; i < 500; ++i)
        person["emails"].as_array().push_back(json::object{{"value", "u" + std::to_string(1000 + i) + "@x.io"}});
    const auto state = json::parse(watched_state("person", person)).as_object();
    EXPECT_EQ(state.at("firstName").as_string().size(), 4095u);
    ASSERT_EQ(state.at("emails").as_array().size(), 50u);
    EXPECT_EQ(state.at("emails").as_array().front(), "u1000@x.io");

    const auto note = note_added(json::object{{"id", "n-1"}, {"body", huge}, {"subject", huge}});
    EXPECT_EQ(note.fields.at("body").as_string().size(), 4095u);
    EXPECT_EQ(note.fields.at("subject").as_string().size(), 4095u);
    std::string ascii(5000, 'b');
    EXPECT_EQ(note_added(json::object{{"body", ascii}}).fields.at("body").as_string().size(), 4096u);
    EXPECT_EQ(watched_state("appointment", json::object{{"startsAt", huge}}).size(), 4095u + 15u);
}

TEST(CrmWatch, EchoOfOurOwnWriteIsNoChange) {
    const auto appointment = O(kAppointment);
    const std::string known = watched_state("appointment", appointment);
    EXPECT_TRUE(observe_change("appointment", known, &appointment).empty());
    // The same instants spelled another way, and fields we do not watch changed: still our own write.
    auto respelled = appointment;
    respelled["startsAt"] = "2026-03-01T20:00:00.000Z";
    respelled["endsAt"] = 1772397900000;   // 2026-03-01T20:45:00Z in epoch ms
    respelled["title"] = "Edited title";
    respelled["updated"] = "2026-03-05T00:00:00Z";
    EXPECT_TRUE(observe_change("appointment", known, &respelled).empty());

    const auto person = O(R"({"id":"p","firstName":"Ann","lastName":"Lee","emails":[{"value":"ann@x.com"}],"tags":[]})");
    auto retagged = person;
    retagged["tags"] = json::array{"vip"};
    retagged["emails"] = json::array{json::object{{"value", "ANN@x.com"}, {"type", "home"}}};
    EXPECT_TRUE(observe_change("person", watched_state("person", person), &retagged).empty());
    const auto task = O(R"({"name":"Showing","dueDateTime":"2026-03-01T20:00:00Z","isCompleted":false})");
    EXPECT_TRUE(observe_change("task", watched_state("task", task), &task).empty());
}

TEST(CrmWatch, MovedAppointmentIsRescheduled) {
    const std::string known = watched_state("appointment", O(kAppointment));
    auto moved = O(kAppointment);
    moved["startsAt"] = "2026-03-02T10:00:00-06:00";
    moved["endsAt"] = "2026-03-02T10:45:00-06:00";
    auto changes = observe_change("appointment", known, &moved);
    ASSERT_EQ(kinds_of(changes), "showing_rescheduled");
    EXPECT_EQ(json::value(changes[0].fields), J(R"({"startsAt":"2026-03-02T10:00:00-06:00",
        "endsAt":"2026-03-02T10:45:00-06:00","previousStartsAt":"2026-03-01T14:00:00-06:00",
        "previousEndsAt":"2026-03-01T14:45:00-06:00"})"));

    auto longer = O(kAppointment);   // only the end moved: still a new time
    longer["endsAt"] = "2026-03-01T15:30:00-06:00";
    EXPECT_EQ(kinds_of(observe_change("appointment", known, &longer)), "showing_rescheduled");
    auto startless = O(kAppointment);   // no start any more: nothing to reschedule to
    startless.erase("startsAt");
    startless["endsAt"] = "2026-03-01T15:30:00-06:00";
    EXPECT_TRUE(observe_change("appointment", known, &startless).empty());
    // Unknown before: a time alone says nothing.
    EXPECT_TRUE(observe_change("appointment", "", &moved).empty());
}

TEST(CrmWatch, CancellationIsReportedAloneAndOnce) {
    const std::string known = watched_state("appointment", O(kAppointment));
    auto cancelled = O(kAppointment);
    cancelled["status"] = "Canceled";
    cancelled["startsAt"] = "2026-03-09T10:00:00Z";   // moved as well: the cancellation wins
    auto changes = observe_change("appointment", known, &cancelled);
    ASSERT_EQ(kinds_of(changes), "showing_cancelled");
    EXPECT_EQ(json::value(changes[0].fields), J(R"({"deleted":false,"status":"Canceled","outcome":null})"));
    auto by_outcome = O(kAppointment);
    by_outcome["outcome"] = json::object{{"name", "Cancelled by buyer"}};
    EXPECT_EQ(kinds_of(observe_change("appointment", known, &by_outcome)), "showing_cancelled");
    // Unknown before: a cancellation is unambiguous.
    EXPECT_EQ(kinds_of(observe_change("appointment", "", &cancelled)), "showing_cancelled");
    // Already known as cancelled: neither another cancellation nor a reschedule.
    auto moved_again = cancelled;
    moved_again["startsAt"] = "2026-03-10T10:00:00Z";
    EXPECT_TRUE(observe_change("appointment", watched_state("appointment", cancelled), &moved_again).empty());
}

TEST(CrmWatch, DeletedShowingIsCancelledUnlessKnownCancelled) {
    const std::string known = watched_state("appointment", O(kAppointment));
    for (const std::string& state : {known, std::string()}) {
        auto changes = observe_change("appointment", state, nullptr);
        ASSERT_EQ(kinds_of(changes), "showing_cancelled");
        EXPECT_EQ(json::value(changes[0].fields), J(R"({"deleted":true})"));
    }
    EXPECT_EQ(kinds_of(observe_change("task", R"({"name":"Showing"})", nullptr)), "showing_cancelled");
    EXPECT_TRUE(observe_change("appointment", R"({"status":"cancelled"})", nullptr).empty());
}

TEST(CrmWatch, CompletionByOutcomeStatusOrTask) {
    const std::string known = watched_state("appointment", O(kAppointment));
    for (const char* word : {"completed", "Showed", " ATTENDED ", "done"}) {
        SCOPED_TRACE(word);
        auto done = O(kAppointment);
        done["outcome"] = word;
        auto changes = observe_change("appointment", known, &done);
        ASSERT_EQ(kinds_of(changes), "showing_completed");
        EXPECT_EQ(changes[0].fields.at("outcome"), word);
    }
    auto by_status = O(kAppointment);
    by_status["status"] = "Completed";
    by_status["outcome"] = json::object{{"name", "Offer made"}};   // named: the outcome is reported
    auto changes = observe_change("appointment", known, &by_status);
    ASSERT_EQ(kinds_of(changes), "showing_completed");
    EXPECT_EQ(changes[0].fields.at("outcome"), "Offer made");
    by_status.erase("outcome");
    EXPECT_EQ(observe_change("appointment", known, &by_status).at(0).fields.at("outcome"), "Completed");
    by_status["outcome"] = "";
    EXPECT_EQ(observe_change("appointment", known, &by_status).at(0).fields.at("outcome"), "Completed");
    // Neither a completion nor a cancellation: nothing typed to say, though the state moved.
    for (const char* word : {"No show", "completed later", "Scheduled"}) {
        auto other = O(kAppointment);
        other["outcome"] = word;
        EXPECT_TRUE(observe_change("appointment", known, &other).empty()) << word;
    }
    auto outcome_id_only = O(kAppointment);
    outcome_id_only["appointmentOutcomeId"] = "o-3";
    EXPECT_TRUE(observe_change("appointment", known, &outcome_id_only).empty());
    // Unknown before: completion is unambiguous; known completed: not again.
    auto showed = O(kAppointment);
    showed["outcome"] = "Showed";
    EXPECT_EQ(kinds_of(observe_change("appointment", "", &showed)), "showing_completed");
    EXPECT_TRUE(observe_change("appointment", watched_state("appointment", showed), &by_status).empty());

    const auto open_task = O(R"({"name":"Showing","dueDateTime":"2026-03-01T20:00:00Z","isCompleted":false})");
    auto done_task = open_task;
    done_task["isCompleted"] = true;
    auto task_changes = observe_change("task", watched_state("task", open_task), &done_task);
    ASSERT_EQ(kinds_of(task_changes), "showing_completed");
    EXPECT_EQ(json::value(task_changes[0].fields), J(R"({"outcome":"completed"})"));
    EXPECT_EQ(kinds_of(observe_change("task", "", &done_task)), "showing_completed");
    EXPECT_TRUE(observe_change("task", "", &open_task).empty());
    EXPECT_TRUE(observe_change("task", watched_state("task", done_task), &done_task).empty());
    EXPECT_TRUE(observe_change("task", watched_state("task", done_task), &open_task).empty());   // reopened
}

TEST(CrmWatch, SeveralChangesAtOnce) {
    const std::string known = watched_state("appointment", O(kAppointment));
    auto moved_and_done = O(kAppointment);
    moved_and_done["startsAt"] = "2026-03-01T16:00:00-06:00";
    moved_and_done["outcome"] = "Showed";
    EXPECT_EQ(kinds_of(observe_change("appointment", known, &moved_and_done)), "showing_rescheduled,showing_completed");

    const auto open_task = O(R"({"name":"Showing","dueDateTime":"2026-03-01T20:00:00Z","isCompleted":false})");
    auto task = open_task;
    task["dueDateTime"] = "2026-03-03T20:00:00Z";
    task["isCompleted"] = true;
    auto changes = observe_change("task", watched_state("task", open_task), &task);
    ASSERT_EQ(kinds_of(changes), "showing_rescheduled,showing_completed");
    EXPECT_EQ(json::value(changes[0].fields), J(R"({"startsAt":"2026-03-03T20:00:00Z","endsAt":null,
        "previousStartsAt":"2026-03-01T20:00:00Z","previousEndsAt":null})"));
}

TEST(CrmWatch, BuyerUpdatedNamesTheChangedFields) {
    const auto person = O(R"({"firstName":"Ann","lastName":"Lee","emails":[{"value":"ann@x.com"}],
        "phones":[{"value":"5125550100"}]})");
    const std::string known = watched_state("person", person);
    auto edited = person;
    edited["emails"] = json::array{json::object{{"value", "ann@x.com"}}, json::object{{"value", "Ann.Lee@work.io"}}};
    edited.erase("phones");
    edited["firstName"] = "Anne";
    auto changes = observe_change("person", known, &edited);
    ASSERT_EQ(kinds_of(changes), "buyer_updated");
    EXPECT_EQ(json::serialize(changes[0].fields),
              R"({"changed":["firstName","emails","phones"],"firstName":"Anne","emails":["ann.lee@work.io","ann@x.com"],)"
              R"("phones":null})");
    EXPECT_TRUE(observe_change("person", "", &edited).empty());          // unknown before
    EXPECT_TRUE(observe_change("person", known, nullptr).empty());       // deleted: not a buyer update
    EXPECT_TRUE(observe_change("note", R"({"body":"a"})", &person).empty());
    EXPECT_TRUE(observe_change("note", "", nullptr).empty());
    EXPECT_TRUE(observe_change("user", known, &edited).empty());
}

TEST(CrmWatch, HostileKnownStatesCountAsUnknownOrCompareSafely) {
    const auto appointment = O(kAppointment);
    auto cancelled = appointment;
    cancelled["status"] = "cancelled";
    for (const char* state : {"not json", "[1,2]", "\"text\"", "{", "null", "{\"startsAt\":"}) {
        SCOPED_TRACE(state);
        EXPECT_TRUE(observe_change("appointment", state, &appointment).empty());   // unknown: nothing unambiguous
        EXPECT_EQ(kinds_of(observe_change("appointment", state, &cancelled)), "showing_cancelled");
        EXPECT_TRUE(observe_change("person", state, &appointment).empty());
    }
    // A state of the right shape holding the wrong types: compared as values, never trusted as flags.
    const char* odd = R"({"startsAt":["x"],"endsAt":{"a":1},"status":7,"outcome":null,"isCompleted":"yes",
        "dueDateTime":false,"firstName":1,"emails":"a@b.c"})";
    EXPECT_EQ(kinds_of(observe_change("appointment", odd, &appointment)), "showing_rescheduled");
    EXPECT_EQ(kinds_of(observe_change("appointment", odd, &cancelled)), "showing_cancelled");
    const auto done_task = O(R"({"dueDateTime":"2026-03-01T20:00:00Z","isCompleted":true})");
    EXPECT_EQ(kinds_of(observe_change("task", odd, &done_task)), "showing_rescheduled,showing_completed");
    const auto person = O(R"({"firstName":"Ann","emails":[{"value":"a@b.c"}]})");
    EXPECT_EQ(observe_change("person", odd, &person).at(0).fields.at("changed"), J(R"(["firstName","emails"])"));
    std::string deep(100000, '[');
    EXPECT_TRUE(observe_change("appointment", deep, &appointment).empty());
}

TEST(CrmWatch, NoteAddedCarriesIdsAndText) {
    const auto note = note_added(O(R"({"id":9007199254740993,"personId":"person-1","subject":"Call back",
        "body":"Wants a second showing","isHtml":false})"));
    EXPECT_EQ(note.kind, "agent_note_added");
    EXPECT_EQ(json::serialize(note.fields),
              R"({"noteId":"9007199254740993","personId":"person-1","subject":"Call back","body":"Wants a second showing"})");
    const auto hostile = note_added(O(R"({"id":{},"personId":[1],"subject":5,"body":null})"));
    EXPECT_EQ(json::serialize(hostile.fields), R"({"noteId":null,"personId":null,"subject":null,"body":null})");
    EXPECT_EQ(json::serialize(note_added(json::object{}).fields),
              R"({"noteId":null,"personId":null,"subject":null,"body":null})");
}

TEST(CrmWatch, RecordUpdatedMs) {
    EXPECT_EQ(record_updated_ms(O(kAppointment)), 1770026400250);   // 2026-02-02T10:00:00.250Z
    EXPECT_EQ(record_updated_ms(O(R"({"created":"2026-02-01T04:00:00-06:00"})")), 1769940000000);
    EXPECT_EQ(record_updated_ms(O(R"({"updated":"garbage","created":"2026-02-01T10:00:00Z"})")), 1769940000000);
    EXPECT_EQ(record_updated_ms(O(R"({"updated":1769940000123})")), 1769940000123);
    EXPECT_EQ(record_updated_ms(O(R"({"updated":1769940000123.9})")), 1769940000123);
    EXPECT_EQ(record_updated_ms(O(R"({"updated":"2026-02-01T10:00:00.1+01:00"})")), 1769936400100);
    EXPECT_EQ(record_updated_ms(O(R"({"updated":"2026-02-01T10:00:00.123456789Z"})")), 1769940000123);
    EXPECT_EQ(record_updated_ms(O(R"({"updated":"2026-02-01T10:00Z"})")), 1769940000000);
    for (const char* bad : {R"({})", R"({"updated":null})", R"({"updated":"2026-02-01T10:00:00"})",
                            R"({"updated":"2026-02-01"})", R"({"updated":-5})", R"({"updated":"1969-12-31T23:59:59Z"})",
                            R"({"updated":1e300})", R"({"updated":18446744073709551615})", R"({"updated":true})",
                            R"({"updated":[1769940000000]})", R"({"updated":"2026-13-01T10:00:00Z"})"}) {
        EXPECT_EQ(record_updated_ms(O(bad)), 0) << bad;
    }
    EXPECT_EQ(record_updated_ms(json::object{{"updated", std::string(1 << 20, '2')}}), 0);
}

using Fields = std::vector<std::string>;

TEST(CrmWatch, FieldsChangedInCrmNameWhatTheCrmsUsersEdited) {
    const std::string written = watched_state("appointment", O(kAppointment));
    // The agent moved the showing: the same instants spelled otherwise are no change, a new time is.
    EXPECT_EQ(fields_changed_in_crm("appointment", written,
                                    R"({"startsAt":"2026-03-01T20:00:00Z","endsAt":"2026-03-01T20:45:00.000Z","status":"Scheduled"})"),
              Fields{});
    EXPECT_EQ(fields_changed_in_crm("appointment", written,
                                    R"({"startsAt":"2026-03-01T15:00:00-06:00","endsAt":1772401500000,"status":"Scheduled"})"),
              (Fields{"startsAt", "endsAt"}));
    EXPECT_EQ(fields_changed_in_crm("appointment", written,
                                    R"({"startsAt":"2026-03-01T14:00:00-06:00","endsAt":"2026-03-01T14:45:00-06:00"})"),
              Fields{"status"});   // gone from one side counts as changed
    EXPECT_EQ(fields_changed_in_crm("person", R"({"firstName":"Ann","lastName":"Lee","emails":["ann@x.com"]})",
                                    R"({"firstName":"Annie","lastName":"Lee","emails":["ann@x.com"],"phones":["15125550100"]})"),
              (Fields{"firstName", "phones"}));
    EXPECT_EQ(fields_changed_in_crm("task", R"({"name":"Showing","dueDateTime":"2026-03-01T20:00:00Z","isCompleted":false})",
                                    R"({"name":"Showing","dueDateTime":"2026-03-02T20:00:00Z","isCompleted":true})"),
              (Fields{"dueDateTime", "isCompleted"}));
}

TEST(CrmWatch, FieldsChangedInCrmNeedBothStates) {
    const std::string written = watched_state("appointment", O(kAppointment));
    EXPECT_EQ(fields_changed_in_crm("appointment", "", written), Fields{});
    EXPECT_EQ(fields_changed_in_crm("appointment", written, ""), Fields{});
    EXPECT_EQ(fields_changed_in_crm("appointment", written, written), Fields{});
    for (const char* hostile : {"[]", "null", "{", "\"text\"", "42"})
        EXPECT_EQ(fields_changed_in_crm("appointment", written, hostile), Fields{}) << hostile;
    EXPECT_EQ(fields_changed_in_crm("note", R"({"body":"a"})", R"({"body":"b"})"), Fields{});
    EXPECT_EQ(fields_changed_in_crm("deal", R"({"x":1})", R"({"x":2})"), Fields{});
}

}  // namespace
}  // namespace rollout_mcp::rollout::test
