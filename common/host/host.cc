#include "common/host/host.h"

#include <unistd.h>

namespace aurigraph {

std::string HostName() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

}  // namespace aurigraph
