#include "monitor/reference_profile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

namespace vigil {
namespace {

using nlohmann::json;

// A numeric column's profile: quantile edges (duplicates merged, so that a
// discrete feature gets one bin per value range), counts, centres, moments.
ColumnProfile NumericColumn(std::string name, std::vector<double> values, int64_t missing, int bins) {
  ColumnProfile p;
  p.name = std::move(name);
  p.count = static_cast<int64_t>(values.size()) + missing;
  p.missing = missing;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  if (n > 0) {
    for (int b = 1; b < bins; ++b) {
      // The value at quantile b / bins (nearest rank).
      const size_t rank = std::min(n - 1, static_cast<size_t>(std::ceil(static_cast<double>(b) * n / bins)) - 1);
      const double edge = values[rank];
      if (edge < values.back() && (p.edges.empty() || edge > p.edges.back())) p.edges.push_back(edge);
    }
    p.min = values.front();
    p.max = values.back();
    // Welford's update: a stable mean and variance.
    double mean = 0, m2 = 0;
    for (size_t i = 0; i < n; ++i) {
      const double delta = values[i] - mean;
      mean += delta / static_cast<double>(i + 1);
      m2 += delta * (values[i] - mean);
    }
    p.mean = mean;
    p.variance = n > 1 ? m2 / static_cast<double>(n - 1) : 0.0;
  }
  p.counts.assign(p.edges.size() + 1, 0.0);
  std::vector<double> sums(p.counts.size(), 0.0);
  for (double v : values) {
    const size_t b = p.Bin(v);
    p.counts[b] += 1;
    sums[b] += v;
  }
  p.centers.resize(p.counts.size());
  for (size_t b = 0; b < p.counts.size(); ++b) p.centers[b] = p.counts[b] > 0 ? sums[b] / p.counts[b] : 0.0;
  p.PrepareFloatEdges();
  return p;
}

json ColumnToJson(const ColumnProfile& c) {
  json j = {{"name", c.name}, {"type", c.categorical ? "categorical" : "numeric"}, {"count", c.count},
            {"missing", c.missing}, {"counts", c.counts}};
  if (c.categorical) {
    j["categories"] = c.categories;
  } else {
    j["edges"] = c.edges;
    j["centers"] = c.centers;
    j["min"] = c.min;
    j["max"] = c.max;
    j["mean"] = c.mean;
    j["variance"] = c.variance;
  }
  return j;
}

ColumnProfile ColumnFromJson(const json& j) {
  ColumnProfile c;
  c.name = j.at("name").get<std::string>();
  c.categorical = j.at("type").get<std::string>() == "categorical";
  c.count = j.at("count").get<int64_t>();
  c.missing = j.at("missing").get<int64_t>();
  c.counts = j.at("counts").get<std::vector<double>>();
  if (c.categorical) {
    c.categories = j.at("categories").get<std::vector<std::string>>();
    if (c.categories.size() != c.counts.size()) throw std::invalid_argument(c.name + ": one count per category expected");
  } else {
    c.edges = j.at("edges").get<std::vector<double>>();
    c.centers = j.at("centers").get<std::vector<double>>();
    c.min = j.at("min").get<double>();
    c.max = j.at("max").get<double>();
    c.mean = j.at("mean").get<double>();
    c.variance = j.at("variance").get<double>();
    if (c.counts.size() != c.edges.size() + 1 || c.centers.size() != c.counts.size()) {
      throw std::invalid_argument(c.name + ": expected edges + 1 counts and centres");
    }
    c.PrepareFloatEdges();
  }
  return c;
}

}  // namespace

void ColumnProfile::PrepareFloatEdges() {
  float_edges.clear();
  for (const double e : edges) {
    // The largest float <= e (the conversion rounds to nearest; beyond the
    // float range it is the largest float, or -inf).
    float f;
    if (e > std::numeric_limits<float>::max() && !std::isinf(e)) {
      f = std::numeric_limits<float>::max();
    } else if (e < -std::numeric_limits<float>::max()) {
      f = -std::numeric_limits<float>::infinity();
    } else {
      f = static_cast<float>(e);
      if (static_cast<double>(f) > e) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
    }
    float_edges.push_back(f);
  }
  while (float_edges.size() % 4 != 0) float_edges.push_back(std::numeric_limits<float>::infinity());
}

ReferenceProfile BuildReferenceProfile(const ModelConfig& config, std::span<const float> data, int64_t rows,
                                       std::span<const float> scores, int bins) {
  ReferenceProfile profile;
  profile.rows = rows;
  const size_t f = config.features.size();
  for (size_t j = 0; j < f; ++j) {
    const FeatureSpec& spec = config.features[j];
    if (spec.kind == FeatureKind::kCategorical) {
      ColumnProfile c;
      c.name = spec.name;
      c.categorical = true;
      c.count = rows;
      c.categories = spec.categories;
      c.counts.assign(spec.categories.size(), 0.0);
      for (int64_t r = 0; r < rows; ++r) {
        const float v = data[static_cast<size_t>(r) * f + j];
        if (std::isnan(v) || v < 0 || v >= static_cast<float>(c.counts.size())) {
          ++c.missing;
        } else {
          c.counts[static_cast<size_t>(v)] += 1;
        }
      }
      profile.features.push_back(std::move(c));
      continue;
    }
    std::vector<double> values;
    int64_t missing = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const float v = data[static_cast<size_t>(r) * f + j];
      if (std::isnan(v)) {
        ++missing;
      } else {
        values.push_back(v);
      }
    }
    profile.features.push_back(NumericColumn(spec.name, std::move(values), missing, bins));
  }
  std::vector<double> score_values;
  int64_t missing = 0;
  for (float s : scores) {
    if (std::isnan(s)) {
      ++missing;
    } else {
      score_values.push_back(s);
    }
  }
  profile.prediction = NumericColumn("prediction", std::move(score_values), missing, bins);
  return profile;
}

std::string ReferenceProfile::ToJson() const {
  json features_json = json::array();
  for (const ColumnProfile& c : features) features_json.push_back(ColumnToJson(c));
  return json{{"rows", rows}, {"features", features_json}, {"prediction", ColumnToJson(prediction)}}.dump(1) + "\n";
}

Result<ReferenceProfile> ReferenceProfile::FromJson(const std::string& text) {
  try {
    const json j = json::parse(text);
    ReferenceProfile p;
    p.rows = j.at("rows").get<int64_t>();
    for (const json& c : j.at("features")) p.features.push_back(ColumnFromJson(c));
    p.prediction = ColumnFromJson(j.at("prediction"));
    return p;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("not a reference profile: ") + e.what());
  }
}

Status WriteReferenceProfile(const ReferenceProfile& profile, const std::filesystem::path& path) {
  const std::filesystem::path staging = path.string() + ".tmp";
  {
    std::ofstream out(staging);
    out << profile.ToJson();
    if (!out) return Status::Internal("cannot write " + staging.string());
  }
  std::error_code ec;
  std::filesystem::rename(staging, path, ec);
  if (ec) return Status::Internal("cannot move the profile into place at " + path.string() + ": " + ec.message());
  return Status::Ok();
}

Result<ReferenceProfile> ReadReferenceProfile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("no reference profile at " + path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto p = ReferenceProfile::FromJson(buffer.str());
  if (!p.ok()) return p.status().WithContext(path.string());
  return p;
}

}  // namespace vigil
