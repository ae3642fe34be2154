#include "common/proxy_url.h"

#include <gtest/gtest.h>

#include "tests/testing/test_util.h"

namespace outpost {
namespace {

TEST(ProxyUrlTest, HostPortAndCredentials) {
  auto plain = ParseProxyUrl("http://proxy.example:3128");
  ASSERT_OK(plain);
  EXPECT_EQ(plain->host, "proxy.example");
  EXPECT_EQ(plain->port, "3128");
  EXPECT_EQ(plain->credentials, "");
  EXPECT_EQ(plain->display, "http://proxy.example:3128");

  auto with = ParseProxyUrl("http://sync:p@ss:word@10.0.0.1:8080/");
  ASSERT_OK(with);
  EXPECT_EQ(with->host, "10.0.0.1");
  EXPECT_EQ(with->credentials, "sync:p@ss:word");  // the last '@' ends them
  EXPECT_EQ(with->display, "http://10.0.0.1:8080");

  auto v6 = ParseProxyUrl("http://[::1]:3128");
  ASSERT_OK(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->display, "http://[::1]:3128");
}

TEST(ProxyUrlTest, WhatIsRefusedSaysWhyAndNeverShowsThePassword) {
  struct Case {
    std::string url;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"https://proxy:3128", "must start with http://"},
           {"proxy:3128", "must start with http://"},
           {"http://proxy", "needs a port"},
           {"http://proxy:0", "needs a port from 1 to 65535"},
           {"http://proxy:70000", "needs a port from 1 to 65535"},
           {"http://proxy:31a8", "needs a port from 1 to 65535"},
           {"http://:3128", "has no host"},
           {"http://proxy:3128/path", "has a path or a query"},
           {"http://pro xy:3128", "holds a space or a control character"},
           {"http://user@proxy:3128", "has a user but no password"},
           {"http://::1:3128", "needs brackets around an IPv6 address"},
           {"http://[::1]3128", "needs a port after the [IPv6] address"},
       }) {
    auto r = ParseProxyUrl(c.url);
    ASSERT_FALSE(r.ok()) << c.url;
    EXPECT_EQ(r.status().code(), Errc::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("accepted:"), std::string::npos);
  }
  auto secret = ParseProxyUrl("http://sync:hunter2@proxy");
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.status().message().find("hunter2"), std::string::npos)
      << secret.status().message();
  EXPECT_NE(secret.status().message().find("http://***@proxy"), std::string::npos);
}

}  // namespace
}  // namespace outpost
