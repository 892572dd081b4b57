// Shared by the benchmark programs: the dated section of bench/RESULTS.md
// that records a run, with the command that produced it.
#ifndef VIGIL_BENCH_BENCH_REPORT_H_
#define VIGIL_BENCH_BENCH_REPORT_H_

#include <ctime>
#include <fstream>
#include <string>

namespace vigil {

// Appends to `path`: "## <UTC date>: <title>", "Command: `<argv>`", then
// `body` (markdown: the method and the table).
inline void AppendResultsSection(const std::string& path, const std::string& title, int argc, char** argv,
                                 const std::string& body) {
  const std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::string command;
  for (int i = 0; i < argc; ++i) command += std::string(i ? " " : "") + argv[i];
  std::ofstream out(path, std::ios::app);
  out << "\n## " << date << ": " << title << "\n\nCommand: `" << command << "`\n\n" << body;
}

}  // namespace vigil

#endif  // VIGIL_BENCH_BENCH_REPORT_H_
