// What the tools may see of rollout/ (docs/ARCHITECTURE.md, "Layers"): the CRM model the sync engine pushes
// and the tools describe in their schemas and results: the adapters' connector keys and kinds, the limits
// table behind the input schemas, and local-time resolution. The include rule lets server/tools include
// server/sync, not rollout/, so the sync engine stays the one owner of the Rollout integration.
#pragma once

#include "rollout/adapters/adapter.hpp"
#include "rollout/limits.hpp"
#include "rollout/local_time.hpp"
