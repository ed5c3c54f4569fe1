// "did you mean" for every place a user types a name shmyolo knows: the CLI's
// commands and options, and class names (model.classes, --classes, ?classes=).
// Header-only, so every component may use it without a dependency.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace shmyolo {

// Edits (insert, delete, replace) between two words: how near a typo is.
inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "; did you mean "demo"?" for the known word fewest edits away (at most a
// third of the word, plus one; a swap of two letters is two edits), or one
// the word starts with ("--confidence" for "--conf"); "" when none is near.
inline std::string did_you_mean(std::string_view word, const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_distance = word.size() / 3 + 2;
  for (const auto& k : known) {
    const bool prefix = k.size() > 2 && word.starts_with(k);
    const std::size_t d = prefix ? 1 : edit_distance(word, k);
    if (d < best_distance) {
      best = k;
      best_distance = d;
    }
  }
  return best.empty() ? "" : "; did you mean \"" + best + "\"?";
}

}  // namespace shmyolo
