// Shared by the integration tests: the reference server in-process on an
// ephemeral loopback port, and scenarios run against it from YAML text.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "loadgen/runner/runner.h"
#include "loadgen/scenario/scenario.h"
#include "reference-server/service/reference_server.h"

namespace aurigraph {

inline std::unique_ptr<refserver::ReferenceServer> StartServer(
    refserver::ServerOptions options = {}) {
  options.listen = "127.0.0.1:0";
  auto server = refserver::ReferenceServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return *std::move(server);
}

inline std::unique_ptr<refserver::ReferenceServer> StartServer(refserver::FaultConfig faults) {
  refserver::ServerOptions options;
  options.faults = faults;
  return StartServer(options);
}

inline absl::StatusOr<loadgen::RunResult> RunYaml(const std::string& yaml,
                                                  const std::string& target) {
  auto scenario = loadgen::ParseScenario(yaml, "test.yaml", {});
  if (!scenario.ok()) return scenario.status();
  loadgen::RunOptions options;
  options.target = target;
  return loadgen::RunScenario(*scenario, options);
}

}  // namespace aurigraph
