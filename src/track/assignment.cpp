#include <shmyolo/track/assignment.hpp>

#include <algorithm>
#include <numeric>

namespace shmyolo::track {
namespace {

// Union-find over rows (0..rows-1) and columns (rows..rows+columns-1).
class Clusters {
 public:
  explicit Clusters(std::size_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), std::size_t{0}); }
  std::size_t root(std::size_t i) {
    while (parent_[i] != i) i = parent_[i] = parent_[parent_[i]];
    return i;
  }
  void join(std::size_t a, std::size_t b) { parent_[root(a)] = root(b); }

 private:
  std::vector<std::size_t> parent_;
};

// The Hungarian method (shortest augmenting paths with potentials) on a
// square n x n matrix; returns the column of each row.
std::vector<std::size_t> hungarian(const std::vector<double>& a, std::size_t n) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0), v(n + 1, 0);
  std::vector<std::size_t> p(n + 1, 0), way(n + 1, 0);  // p[j]: the row matched to column j (1-based)
  for (std::size_t i = 1; i <= n; ++i) {
    p[0] = i;
    std::size_t j0 = 0;
    std::vector<double> minv(n + 1, inf);
    std::vector<bool> used(n + 1, false);
    do {
      used[j0] = true;
      const std::size_t i0 = p[j0];
      double delta = inf;
      std::size_t j1 = 0;
      for (std::size_t j = 1; j <= n; ++j) {
        if (used[j]) continue;
        const double cur = a[(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (std::size_t j = 0; j <= n; ++j) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      const std::size_t j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<std::size_t> column(n, 0);
  for (std::size_t j = 1; j <= n; ++j) column[p[j] - 1] = j - 1;
  return column;
}

// One cluster, extended as lapjv's cost_limit does: each real row and column
// may also pair with a stand-in at limit / 2, so a real pair is taken only
// when it costs less than leaving both unmatched (limit).
void solve(const std::vector<float>& cost, std::size_t columns, const std::vector<std::size_t>& rows_in,
           const std::vector<std::size_t>& columns_in, float limit,
           std::vector<std::pair<std::size_t, std::size_t>>& out) {
  const std::size_t r = rows_in.size();
  const std::size_t c = columns_in.size();
  const std::size_t n = r + c;
  // Far above any sum of allowed costs, finite so the potentials stay finite.
  const double forbidden = (static_cast<double>(limit) + 1) * static_cast<double>(n + 1) * 4;
  std::vector<double> a(n * n, limit / 2.0);
  for (std::size_t i = 0; i < r; ++i) {
    for (std::size_t j = 0; j < c; ++j) {
      const float v = cost[rows_in[i] * columns + columns_in[j]];
      a[i * n + j] = v < limit ? v : forbidden;
    }
  }
  for (std::size_t i = r; i < n; ++i) std::fill_n(a.begin() + static_cast<std::ptrdiff_t>(i * n + c), r, 0.0);
  const auto column = hungarian(a, n);
  for (std::size_t i = 0; i < r; ++i) {
    const std::size_t j = column[i];
    if (j < c && cost[rows_in[i] * columns + columns_in[j]] < limit) out.emplace_back(rows_in[i], columns_in[j]);
  }
}

}  // namespace

std::vector<std::pair<std::size_t, std::size_t>> assign(const std::vector<float>& cost, std::size_t rows,
                                                        std::size_t columns, float limit) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  Clusters clusters(rows + columns);
  std::vector<bool> linked(rows + columns, false);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < columns; ++j) {
      if (!(cost[i * columns + j] < limit)) continue;
      clusters.join(i, rows + j);
      linked[i] = linked[rows + j] = true;
    }
  }
  // Each cluster's rows and columns, filed under its root.
  std::vector<std::vector<std::size_t>> rows_of(rows + columns);
  std::vector<std::vector<std::size_t>> columns_of(rows + columns);
  for (std::size_t i = 0; i < rows + columns; ++i) {
    if (!linked[i]) continue;
    if (i < rows)
      rows_of[clusters.root(i)].push_back(i);
    else
      columns_of[clusters.root(i)].push_back(i - rows);
  }
  for (std::size_t root = 0; root < rows + columns; ++root) {
    const auto& rows_in = rows_of[root];
    const auto& columns_in = columns_of[root];
    if (rows_in.empty()) continue;
    if (rows_in.size() == 1 && columns_in.size() == 1) {  // the common case: one box, one track
      out.emplace_back(rows_in[0], columns_in[0]);
      continue;
    }
    solve(cost, columns, rows_in, columns_in, limit, out);
  }
  return out;
}

}  // namespace shmyolo::track
