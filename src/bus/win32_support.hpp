// Small Windows helpers the bus's platform files share: a system error's
// text, and the security descriptor that admits only the creating user (the
// equivalent of mode 0600).
#pragma once

#include <windows.h>
// After windows.h, whose types it uses.
#include <sddl.h>

#include <array>
#include <cstddef>
#include <string>

#include "text.hpp"

namespace shmyolo::bus::detail {

inline std::string system_message(DWORD code) {
  std::array<char, 256> text{};
  const DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, code, 0,
                                 text.data(), static_cast<DWORD>(text.size()), nullptr);
  std::string s(text.data(), n);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == '.')) s.pop_back();
  return s.empty() ? strf("error %lu", static_cast<unsigned long>(code)) : s;
}

// A descriptor that lets only this process's user open the mapping.
struct OwnerOnly {
  SECURITY_ATTRIBUTES attributes{sizeof(SECURITY_ATTRIBUTES), nullptr, FALSE};
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  OwnerOnly() {
    HANDLE token = nullptr;
    if (OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token) == 0) return;
    std::array<std::byte, 256> buffer{};
    DWORD size = 0;
    LPSTR sid = nullptr;
    if (GetTokenInformation(token, TokenUser, buffer.data(), static_cast<DWORD>(buffer.size()), &size) != 0 &&
        ConvertSidToStringSidA(reinterpret_cast<TOKEN_USER*>(buffer.data())->User.Sid, &sid) != 0) {  // NOLINT
      const std::string sddl = std::string("D:P(A;;GA;;;") + sid + ")";
      ConvertStringSecurityDescriptorToSecurityDescriptorA(sddl.c_str(), SDDL_REVISION_1, &descriptor, nullptr);
      LocalFree(sid);
    }
    CloseHandle(token);
    attributes.lpSecurityDescriptor = descriptor;
  }
  OwnerOnly(const OwnerOnly&) = delete;
  OwnerOnly& operator=(const OwnerOnly&) = delete;
  ~OwnerOnly() {
    if (descriptor != nullptr) LocalFree(descriptor);
  }
};

}  // namespace shmyolo::bus::detail
