// `labnet forge-dns`: a hostile resolver for the lab (see forge_dns.cc).
#pragma once

#include <string>

namespace labnet {

// Serves ADDRESS:53 (IPv4, UDP and TCP) until killed. Answers name the asked name with `real`
// once, and otherwise claim `forged` for it or for `other`. Returns -1 on bad arguments, 70 when
// it cannot listen. Creates `ready_file` (if not empty) once it listens.
int runForgeDns(const std::string& address, const std::string& other, const std::string& real,
                const std::string& forged, const std::string& ready_file);

}  // namespace labnet
