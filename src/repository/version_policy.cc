#include "repository/version_policy.h"

#include <algorithm>

namespace vigil {

std::vector<int64_t> VersionPolicy::Select(std::vector<int64_t> available) const {
  std::sort(available.begin(), available.end());
  switch (kind) {
    case Kind::kAll:
      return available;
    case Kind::kLatest: {
      size_t n = std::min(available.size(), static_cast<size_t>(std::max(latest, 0)));
      return {available.end() - static_cast<std::ptrdiff_t>(n), available.end()};
    }
    case Kind::kSpecific: {
      std::vector<int64_t> out;
      for (int64_t v : available) {
        if (std::find(specific.begin(), specific.end(), v) != specific.end()) out.push_back(v);
      }
      return out;
    }
  }
  return {};
}

std::string VersionPolicy::ToString() const {
  switch (kind) {
    case Kind::kAll:
      return "all";
    case Kind::kLatest:
      return "latest: " + std::to_string(latest);
    case Kind::kSpecific: {
      std::string out = "specific: [";
      for (size_t i = 0; i < specific.size(); ++i) {
        if (i) out += ", ";
        out += std::to_string(specific[i]);
      }
      return out + "]";
    }
  }
  return "";
}

}  // namespace vigil
