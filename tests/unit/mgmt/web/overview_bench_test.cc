// How long the overview of a full inventory takes to render: 4,096 devices over 6 profiles,
// 50 times, the median printed. Not an assertion (a loaded CI machine is no measure) and
// skipped by default; run it with
//   build/tests/unit_mgmt_web --test-case='*overview bench*' --no-skip
// The goal is under 50 ms on the box, so a page load is dominated by the network, not by us.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "mgmt/web/pages.h"

namespace muzzle::web {
namespace MUZZLE_UNITY_ID {

OverviewPage bigOverview(size_t devices) {
  static constexpr const char* kProfiles[] = {"camera", "speaker", "vacuum",
                                              "tv",     "default", "quarantine"};
  OverviewPage page;
  page.status.set_policy_revision(12);
  page.status.set_queue_mode("compat");
  page.status.set_fail_mode("closed");
  page.status.add_queues()->set_packets(123456789);
  page.revisions.set_current(12);
  for (size_t i = 0; i < devices; ++i) {
    v1::DeviceInfo* d = page.devices.add_devices();
    char mac[18];
    std::snprintf(mac, sizeof(mac), "44:47:cc:%02zx:%02zx:%02zx", (i >> 16) & 0xff, (i >> 8) & 0xff,
                  i & 0xff);
    d->set_mac(mac);
    const char* profile = kProfiles[i % 6];
    d->set_profile(profile);
    d->set_listed(i % 6 != 4);
    d->set_assignment(i % 6 == 4 ? (i % 12 == 4 ? "default" : "classified") : "listed");
    if (d->listed()) d->set_name("device " + std::to_string(i) + " <hall> & \"yard\"");
    d->set_vendor("Hangzhou Hikvision Digital Technology");
    d->add_ips("192.0.2." + std::to_string(i % 250));
    d->add_ips("2001:db8::" + std::to_string(i));
    d->set_segment("iot");
    d->mutable_last_seen()->set_seconds(1796306709 - static_cast<int64_t>(i));
    d->set_allowed(i * 7);
    d->set_denied(i % 13);
    d->set_quarantined(i % 6 == 5);
  }
  page.denials_per_minute.assign(60, 0);
  for (size_t m = 0; m < 60; ++m) page.denials_per_minute[m] = static_cast<uint32_t>(m * 3 % 17);
  return page;
}

TEST_CASE("overview bench: 4,096 devices" * doctest::skip()) {
  const OverviewPage page = bigOverview(4096);
  PageContext ctx;
  ctx.user = "otto";
  ctx.role = Role::kOperator;
  ctx.csrf = "tok";
  ctx.now_unix = 1796306889;
  std::vector<double> ms;
  size_t bytes = 0;
  for (int run = 0; run < 50; ++run) {
    const auto start = std::chrono::steady_clock::now();
    const std::string html = renderOverview(page, ctx);
    const auto end = std::chrono::steady_clock::now();
    bytes = html.size();
    ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("overview of 4096 devices: median %.2f ms (min %.2f, max %.2f), %zu bytes\n",
              ms[ms.size() / 2], ms.front(), ms.back(), bytes);
  CHECK(bytes > 4096 * 100);  // every device is on the page
}

}  // namespace
}  // namespace muzzle::web
