#include "monitor/metrics.h"

#include <dirent.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <type_traits>

namespace vigil {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

const std::vector<double>& LatencyBucketsSeconds() {
  static const std::vector<double> kBuckets = {0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                               0.0025,  0.005,  0.01,    0.025,  0.05,
                                               0.1,     0.25,   0.5,     1,      2.5,
                                               5,       10};
  return kBuckets;
}

const std::vector<double>& BatchSizeBuckets() {
  static const std::vector<double> kBuckets = {1,  2,   4,   8,   16,   32,   64,
                                               128, 256, 512, 1024, 4096, 16384};
  return kBuckets;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  return std::string(buf, ptr);
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void WriteFamilyHeader(std::string& out, std::string_view name, std::string_view help,
                       std::string_view type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  for (char c : help) {  // HELP escapes backslash and newline only.
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void WriteSample(std::string& out, std::string_view name,
                 const std::vector<std::string>& label_names,
                 const std::vector<std::string>& label_values, double value) {
  out += name;
  if (!label_names.empty()) {
    out += '{';
    for (size_t i = 0; i < label_names.size(); ++i) {
      if (i) out += ',';
      out += label_names[i];
      out += "=\"";
      out += EscapeLabelValue(label_values[i]);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  out += FormatValue(value);
  out += '\n';
}

template <typename T>
T& Family<T>::WithLabels(const std::vector<std::string>& label_values) {
  std::lock_guard lock(mu_);
  auto it = children_.find(label_values);
  if (it != children_.end()) return *it->second;
  std::unique_ptr<T> child;
  if constexpr (std::is_same_v<T, Histogram>) {
    child = std::make_unique<T>(bounds_);
  } else {
    child = std::make_unique<T>();
  }
  T& ref = *child;
  children_.emplace(label_values, std::move(child));
  return ref;
}

template <typename T>
void Family<T>::Remove(const std::vector<std::string>& label_values) {
  std::lock_guard lock(mu_);
  children_.erase(label_values);
}

template <typename T>
void Family<T>::RemoveIf(const std::function<bool(const std::vector<std::string>&)>& match) {
  std::lock_guard lock(mu_);
  std::erase_if(children_, [&](const auto& child) { return match(child.first); });
}

template <typename T>
void Family<T>::ForEach(const std::function<void(const std::vector<std::string>&, const T&)>& fn) const {
  std::lock_guard lock(mu_);
  for (const auto& [labels, child] : children_) fn(labels, *child);
}

template <typename T>
void Family<T>::Render(std::string& out) const {
  std::lock_guard lock(mu_);
  if constexpr (std::is_same_v<T, Counter>) {
    WriteFamilyHeader(out, name_, help_, "counter");
    for (const auto& [labels, c] : children_) WriteSample(out, name_, label_names_, labels, c->value());
  } else if constexpr (std::is_same_v<T, Gauge>) {
    WriteFamilyHeader(out, name_, help_, "gauge");
    for (const auto& [labels, g] : children_) WriteSample(out, name_, label_names_, labels, g->value());
  } else {
    WriteFamilyHeader(out, name_, help_, "histogram");
    std::vector<std::string> names = label_names_;
    names.push_back("le");
    const std::string bucket = name_ + "_bucket";
    for (const auto& [labels, h] : children_) {
      std::vector<uint64_t> counts = h->BucketCounts();
      std::vector<std::string> values = labels;
      values.push_back("");
      uint64_t cumulative = 0;
      for (size_t i = 0; i < counts.size(); ++i) {
        cumulative += counts[i];
        values.back() = i < h->bounds().size() ? FormatValue(h->bounds()[i]) : "+Inf";
        WriteSample(out, bucket, names, values, static_cast<double>(cumulative));
      }
      // _count equals the +Inf bucket so that a scrape is self-consistent even
      // while observations race with rendering.
      WriteSample(out, name_ + "_sum", label_names_, labels, h->sum());
      WriteSample(out, name_ + "_count", label_names_, labels, static_cast<double>(cumulative));
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Family<Counter>& MetricsRegistry::AddCounter(std::string name, std::string help,
                                             std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  counters_.push_back(
      std::make_unique<Family<Counter>>(std::move(name), std::move(help), std::move(label_names)));
  return *counters_.back();
}

Family<Gauge>& MetricsRegistry::AddGauge(std::string name, std::string help,
                                         std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  gauges_.push_back(
      std::make_unique<Family<Gauge>>(std::move(name), std::move(help), std::move(label_names)));
  return *gauges_.back();
}

Family<Histogram>& MetricsRegistry::AddHistogram(std::string name, std::string help,
                                                 std::vector<std::string> label_names,
                                                 std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  histograms_.push_back(std::make_unique<Family<Histogram>>(
      std::move(name), std::move(help), std::move(label_names), std::move(bounds)));
  return *histograms_.back();
}

void MetricsRegistry::AddCollector(Collector collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::Render() const {
  std::string out;
  out.reserve(16384);
  std::lock_guard lock(mu_);
  for (const auto& f : counters_) f->Render(out);
  for (const auto& f : gauges_) f->Render(out);
  for (const auto& f : histograms_) f->Render(out);
  for (const auto& c : collectors_) c(out);
  return out;
}

namespace {

// Seconds since the epoch at which this process started, from /proc/self/stat
// (field 22, in clock ticks since boot) and the boot time in /proc/stat.
double ProcessStartTimeSeconds() {
  std::ifstream stat("/proc/self/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t close = content.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(content.substr(close + 2));
  std::string field;
  // Fields after the command name start at field 3 (state); starttime is 22.
  for (int i = 3; i <= 22 && fields >> field; ++i) {
  }
  double start_ticks = std::strtod(field.c_str(), nullptr);
  std::ifstream proc_stat("/proc/stat");
  std::string line;
  double boot_time = 0;
  while (std::getline(proc_stat, line)) {
    if (line.rfind("btime ", 0) == 0) boot_time = std::strtod(line.c_str() + 6, nullptr);
  }
  return boot_time + start_ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

void AddProcessCollector(MetricsRegistry& registry) {
  const double start_time = ProcessStartTimeSeconds();
  registry.AddCollector([start_time](std::string& out) {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    double cpu = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
                 (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    WriteFamilyHeader(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter");
    WriteSample(out, "process_cpu_seconds_total", {}, {}, cpu);

    double rss_pages = 0, vm_pages = 0;
    {
      std::ifstream statm("/proc/self/statm");
      statm >> vm_pages >> rss_pages;
    }
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    WriteFamilyHeader(out, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge");
    WriteSample(out, "process_resident_memory_bytes", {}, {}, rss_pages * page);
    WriteFamilyHeader(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge");
    WriteSample(out, "process_virtual_memory_bytes", {}, {}, vm_pages * page);
    // The C allocator's view: memory the program holds (in_use, mapped
    // blocks included) and freed memory the allocator keeps in its arenas
    // (free). Resident memory above in_use is the allocator's, not a leak.
    const struct mallinfo2 heap = ::mallinfo2();
    WriteFamilyHeader(out, "vigil_process_heap_bytes",
                      "Heap memory by state: in_use (allocated by the program), free (kept by the allocator).",
                      "gauge");
    WriteSample(out, "vigil_process_heap_bytes", {"state"}, {"in_use"},
                static_cast<double>(heap.uordblks + heap.hblkhd));
    WriteSample(out, "vigil_process_heap_bytes", {"state"}, {"free"}, static_cast<double>(heap.fordblks));

    int fds = 0;
    if (DIR* dir = opendir("/proc/self/fd")) {
      while (dirent* e = readdir(dir)) {
        if (e->d_name[0] != '.') ++fds;
      }
      closedir(dir);
      --fds;  // The descriptor opendir itself holds.
    }
    WriteFamilyHeader(out, "process_open_fds", "Number of open file descriptors.", "gauge");
    WriteSample(out, "process_open_fds", {}, {}, fds);
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    WriteFamilyHeader(out, "process_max_fds", "Maximum number of open file descriptors.", "gauge");
    WriteSample(out, "process_max_fds", {}, {}, static_cast<double>(limit.rlim_cur));
    WriteFamilyHeader(out, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge");
    WriteSample(out, "process_start_time_seconds", {}, {}, start_time);
  });
}

// Prometheus's histogram_quantile: linear within the bucket that holds the
// rank; the +Inf bucket answers with the largest finite bound.
double HistogramQuantile(const std::vector<double>& bounds, const std::vector<uint64_t>& counts, double q) {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0) return NAN;
  const double rank = q * static_cast<double>(total);
  double below = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    const double here = static_cast<double>(counts[i]);
    if (below + here >= rank && here > 0) {
      if (i >= bounds.size()) return bounds.back();
      const double lo = i == 0 ? 0.0 : bounds[i - 1];
      return lo + (bounds[i] - lo) * (rank - below) / here;
    }
    below += here;
  }
  return bounds.back();
}


}  // namespace vigil
