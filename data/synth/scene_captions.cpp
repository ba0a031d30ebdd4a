// Caption templates. Every sentence is built from the SceneDescription only (what the
// painter really drew), names the class in the words the zero-shot prompts use ("parking
// lot", "dense residential area") and adds attributes that differ between images of the
// same class (position, colours, counts, extras), so that retrieval has something to learn
// beyond the class. RSICD-like style: lower case, one sentence, American spelling.
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include <c10/util/Exception.h>

#include "data/synth/scene_rng.h"
#include "data/synth/synth_scenes.h"

namespace rsclip::data {
namespace {

std::string prefix(SceneRng& rng) {
  static constexpr std::array<const char*, 4> kViews{"an aerial image of", "a satellite image of",
                                                     "a remote sensing image of", "an overhead view of"};
  return kViews[static_cast<std::size_t>(rng.range(0, 3))];
}

// "in the north", "in the middle".
std::string in(Compass c) { return c == Compass::centre ? "in the middle" : "in the " + std::string(compass_name(c)); }

std::string along(const std::string& orientation, SceneRng& rng) {
  if (orientation == "east-west") return rng.chance(0.5) ? "from west to east" : "from east to west";
  if (orientation == "north-south") return rng.chance(0.5) ? "from north to south" : "from south to north";
  return "diagonally across the image";
}

std::string setting_phrase(const std::string& setting) {
  if (setting == "forest") return "a dense forest";
  if (setting == "grassland") return "green grassland";
  if (setting == "farmland") return "farmland";
  if (setting == "desert") return "the desert";
  return setting;
}

std::string count(int n, const std::string& singular, const std::string& plural) {
  return number_word(n) + " " + (n == 1 ? singular : plural);
}

std::string join(const std::vector<std::string>& words, std::size_t max_words = 3) {
  std::string out;
  const std::size_t n = std::min(words.size(), max_words);
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) out += i + 1 == n ? " and " : ", ";
    out += words[i];
  }
  return out;
}

// "about forty" for larger counts (parking lots), the exact word for small ones.
std::string approx(int n) {
  if (n < 12) return number_word(n);
  static constexpr std::array<const char*, 10> kTens{"",      "ten",   "twenty",  "thirty", "forty",
                                                     "fifty", "sixty", "seventy", "eighty", "ninety"};
  const int r = (n + 5) / 10 * 10;
  return "about " + (r < 100 ? std::string(kTens[static_cast<std::size_t>(r / 10)]) : std::to_string(r));
}

// "a" or "an" before a word.
std::string with_article(const std::string& word) {
  return (!word.empty() && std::string_view("aeiou").find(word.front()) != std::string_view::npos ? "an " : "a ") +
         word;
}

std::string first_colour(const SceneDescription& d) { return d.colours.empty() ? "grey" : d.colours.front(); }

void farmland(const SceneDescription& d, SceneRng& rng, std::vector<std::string>& c) {
  const std::string cols = join(d.colours), stripes = d.orientation == "diagonal" ? "diagonal" : d.orientation;
  const auto* house = d.feature("farmhouse");
  c.push_back(prefix(rng) + " farmland with " + cols + " fields.");
  c.push_back(d.density + " fields arranged in " + stripes + " stripes on farmland.");
  c.push_back("farmland divided into strips of " + cols + " crops.");
  c.push_back(d.density + " rectangular fields of crops on farmland" +
              (house ? ", with a farmhouse " + in(house->where) : "") + ".");
  c.push_back(d.colours.size() >= 2
                  ? "farmland where " + d.colours[0] + " fields alternate with " + d.colours[1] + " fields."
                  : "a large " + first_colour(d) + " field with parallel crop rows on farmland.");
  c.push_back(d.has("road") ? "a road crosses farmland made of " + cols + " fields."
                            : "parallel crop rows cover the farmland in " + stripes + " stripes.");
  c.push_back(house ? "a farmhouse with trees stands " + in(house->where) + " of the farmland."
                    : "cultivated farmland with no buildings, only " + d.density + " fields.");
}

void forest(const SceneDescription& d, SceneRng& rng, std::vector<std::string>& c) {
  const std::string cols = join(d.colours);
  const auto* clearing = d.feature("clearing");
  c.push_back(prefix(rng) + " " + with_article(d.density) + " forest of " + cols + " trees.");
  c.push_back(d.density == "dense" ? "many trees with " + cols + " crowns form a dense forest."
                                   : "trees are scattered over open ground in a sparse forest.");
  c.push_back(clearing ? "a forest with " + with_article(d.size) + " clearing " + in(clearing->where) + "."
                       : (d.density == "dense" ? "the canopy of the dense forest is continuous, without any clearing."
                                               : "a sparse forest with open ground between the trees."));
  c.push_back(d.has("road") ? "a dirt road crosses the " + d.density + " forest " + along(d.orientation, rng) + "."
                            : "there are no roads in this " + d.density + " forest.");
  c.push_back(d.density + " woodland seen from above, a forest with " + cols + " tree crowns.");
  c.push_back(d.colours.size() > 1 ? "an autumn forest with orange and yellow leaves."
                                   : with_article(cols) + " forest covered by " + d.density + " trees.");
}

void desert(const SceneDescription& d, SceneRng& rng, std::vector<std::string>& c) {
  const std::string col = first_colour(d);
  const bool shrubs = d.has("shrubs"), rocks = d.has("rocks");
  c.push_back(prefix(rng) + " a desert with " + col + " sand dunes.");
  c.push_back("wavy ripples of " + col + " sand cover the whole desert.");
  c.push_back(d.orientation == "diagonal" ? "the crests of the dunes run diagonally across the desert."
                                          : "desert dunes with crests running " + d.orientation + ".");
  c.push_back(std::string("a vast bare desert") + (shrubs ? " with scattered shrubs" : "") +
              (rocks ? (shrubs ? " and dark rocks" : " with dark rocks") : "") + ".");
  c.push_back(shrubs ? "a few small shrubs grow in the " + col + " desert."
                     : with_article(col) + " desert without any vegetation.");
  c.push_back(d.has("track") ? "a track crosses the sand dunes of the desert."
                             : "sand dunes with parallel crests in a dry desert.");
  c.push_back(rocks ? "dark rocks stick out of the " + col + " sand of the desert."
                    : prefix(rng) + " " + col + " dunes in a desert.");
}

void river(const SceneDescription& d, SceneRng& rng, std::vector<std::string>& c) {
  const std::string setting = setting_phrase(d.setting), col = first_colour(d);
  const auto* bridge = d.feature("bridge");
  const int boats = d.count("boat");
  c.push_back(prefix(rng) + " a " + d.size + " river crossing " + setting +
              (bridge ? ", with a bridge " + in(bridge->where) : "") + ".");
  c.push_back(d.orientation == "diagonal" && d.position == Compass::centre
                  ? "a " + col + " river flows diagonally through the middle of the image."
                  : "a " + col + " river flows " + along(d.orientation, rng) + " " + in(d.position) + " of the image.");
  c.push_back("a " + d.size + " river winds through " + setting + " " + in(d.position) + ".");
  c.push_back("there is a " + d.size + " " + col + " river with muddy banks.");
  c.push_back(bridge ? "a bridge crosses the river " + in(bridge->where) + "."
                     : "a river without any bridge runs through " + setting + ".");
  c.push_back(boats > 0 ? count(boats, "boat", "boats") + " on a " + d.size + " river surrounded by " + setting + "."
                        : "the " + col + " river divides " + setting + " into two parts.");
  c.push_back("a " + col + " river runs " + along(d.orientation, rng) + " through " + setting + ".");
}

void lake(const SceneDescription& d, SceneRng& rng, std::vector<std::string>& c) {
  const std::string setting = setting_phrase(d.setting), col = first_colour(d);
  const auto* island = d.feature("island");
  const int boats = d.count("boat");
  c.push_back(prefix(rng) + " a " + d.size + " lake " + in(d.position) + " surrounded by " + setting + ".");
  c.push_back("a " + col + " lake with an irregular shoreline " + in(d.position) + ".");
  c.push_back(boats > 0 ? count(boats, "boat", "boats") + " on a " + d.size + " lake."
                        : "a calm " + d.size + " lake with no boats.");
  c.push_back("there is a lake " + in(d.position) + " with " + setting + " around it.");
  c.push_back("the " + col + " water of the lake is edged by a narrow sandy shore.");
  c.push_back(island ? "a " + d.size + " lake with a small green island " + in(island->where) + "."
                     : "a " + d.size + " " + col + " lake among " + setting + ".");
}

void beach(const SceneDescription& d, SceneRng& rng, std::vector<std::string>& c) {
  const std::string sea = d.colours.at(0), sand = d.colours.at(1), side = std::string(compass_name(d.position));
  const std::string behind = d.setting == "town"     ? "a row of houses"
                             : d.setting == "desert" ? "sand dunes"
                                                     : "green trees";
  c.push_back(prefix(rng) + " a sandy beach with the sea to the " + side + ".");
  c.push_back("white waves break on a " + d.size + " " + sand + " beach.");
  c.push_back("a beach lies between the " + sea + " sea and " + behind + ".");
  c.push_back(d.has("umbrellas") ? "colorful umbrellas are scattered on the " + sand + " beach."
                                 : "an empty " + sand + " beach next to the " + sea + " sea.");
  c.push_back("the " + sea + " sea " + in(d.position) + " meets a " + d.size + " sandy beach.");
  c.push_back("a " + d.size + " strip of " + sand + " sand along the coast, a beach with the sea to the " + side + ".");
}

void harbor(const SceneDescription& d, SceneRng& rng, std::vector<std::string>& c) {
  const int boats = d.count("boat"), piers = d.count("pier");
  const std::string col = first_colour(d), nb = count(boats, "boat", "boats"), np = count(piers, "pier", "piers");
  c.push_back(prefix(rng) + " a harbor with " + nb + " moored along " + np + ".");
  c.push_back(count(boats, "white boat", "white boats") + (boats == 1 ? " is" : " are") + " docked in a harbor.");
  c.push_back(np + (piers == 1 ? " extends" : " extend") + " from the quay " + in(d.position) + " into the " + col +
              " water of a harbor.");
  c.push_back(boats >= 6 ? "a busy harbor with many boats and a quay " + in(d.position) + "."
                         : "a quiet harbor with only " + nb + ".");
  c.push_back(d.has("containers") ? "colorful containers are stacked on the quay next to the harbor."
                                  : "warehouses stand on the quay beside the harbor.");
  c.push_back("boats are parked in a harbor with " + np + ".");
  c.push_back("a harbor with " + col + " water and " + nb + ".");
}

void dense_residential(const SceneDescription& d, SceneRng& rng, std::vector<std::string>& c) {
  const std::string roof = first_colour(d);
  const auto* park = d.feature("park");
  c.push_back(prefix(rng) + " a dense residential area with many houses with " + roof + " roofs.");
  c.push_back("many buildings are closely packed along a grid of streets in a dense residential area.");
  c.push_back("a crowded dense residential area of small houses with " + roof + " roofs.");
  c.push_back(park ? "a small park with trees " + in(park->where) + " of a dense residential area."
                   : "there is almost no green space between the houses of this dense residential area.");
  c.push_back("rows of houses with " + roof + " roofs line the straight streets of a dense residential area.");
  c.push_back("a dense residential area seen from above, with narrow streets between blocks of houses.");
  c.push_back(d.orientation == "diagonal"
                  ? "the streets of the dense residential area run diagonally across the image."
                  : "a dense residential area with a regular grid of north-south and east-west streets.");
}

void sparse_residential(const SceneDescription& d, SceneRng& rng, std::vector<std::string>& c) {
  const int houses = d.count("house"), pools = d.count("pool");
  const std::string nh = count(houses, "house", "houses"), roofs = join(d.colours, 2);
  c.push_back(prefix(rng) + " a sparse residential area with " + nh + ".");
  c.push_back(count(houses, "detached house", "detached houses") + " with " + roofs +
              " roofs in a sparse residential area with green lawns.");
  c.push_back("a few houses and many trees along a winding road in a sparse residential area.");
  c.push_back(pools > 0 ? count(pools, "swimming pool", "swimming pools") +
                              " next to the houses of a sparse residential area."
                        : "a quiet sparse residential area where houses are surrounded by trees.");
  c.push_back("houses with " + roofs + " roofs stand far apart among green trees in a sparse residential area.");
  c.push_back("a sparse residential area where a road curves between " + nh + ".");
}

void industrial(const SceneDescription& d, SceneRng& rng, std::vector<std::string>& c) {
  const int buildings = d.count("building"), tanks = d.count("tank");
  const std::string roof = first_colour(d), nt = count(tanks, "white storage tank", "white storage tanks");
  c.push_back(prefix(rng) + " an industrial area with " + count(buildings, "large building", "large buildings") +
              " with " + roof + " roofs.");
  c.push_back(tanks > 0
                  ? nt + (tanks == 1 ? " stands" : " stand") + " next to factories in an industrial area."
                  : "large factory buildings with " + roof + " roofs and no storage tanks in an industrial area.");
  c.push_back("an industrial area of big rectangular " + roof + " roofs separated by roads.");
  c.push_back("warehouses and factories on grey concrete ground in an industrial area.");
  c.push_back("factories with large " + roof + " roofs" + (tanks > 0 ? " and " + nt : "") + " in an industrial area.");
  c.push_back("industrial buildings seen from above, an industrial area with " + number_word(buildings) +
              " large roofs.");
}

void highway(const SceneDescription& d, SceneRng& rng, std::vector<std::string>& c) {
  const int cars = d.count("car");
  const std::string setting = setting_phrase(d.setting);
  const auto* overpass = d.feature("overpass");
  c.push_back(prefix(rng) + " a highway crossing " + setting + " " + along(d.orientation, rng) + ".");
  c.push_back(cars > 0
                  ? count(cars, "car", "cars") + (cars == 1 ? " is" : " are") + " driving on a " + d.size + " highway."
                  : "an empty " + d.size + " highway with no cars.");
  c.push_back("a highway with a " + first_colour(d) + " median strip " + in(d.position) + " of the image.");
  c.push_back("a straight " + d.size + " highway runs " + along(d.orientation, rng) + " through " + setting + ".");
  c.push_back(overpass ? "a bridge passes over the highway " + in(overpass->where) + "."
                       : "the highway is lined by " + setting + ".");
  c.push_back("a divided highway with white lane markings and " +
              (cars > 0 ? count(cars, "vehicle", "vehicles") : std::string("no vehicles")) + ".");
}

void airport(const SceneDescription& d, SceneRng& rng, std::vector<std::string>& c) {
  const int planes = d.count("plane");
  const auto* terminal = d.feature("terminal");
  c.push_back(prefix(rng) + " an airport with a long runway running " + along(d.orientation, rng) + ".");
  c.push_back(planes > 0 ? count(planes, "white plane", "white planes") + (planes == 1 ? " is" : " are") +
                               " parked near the terminal of the airport."
                         : "no planes are parked at the terminal of this airport.");
  c.push_back("an airport runway with white markings next to a parallel taxiway.");
  c.push_back("the terminal of the airport is " + in(terminal ? terminal->where : Compass::centre) + ", with " +
              (planes > 0 ? count(planes, "plane", "planes") + " on the apron." : std::string("an empty apron.")));
  c.push_back("a " + first_colour(d) + " runway crosses green grass at an airport.");
  c.push_back("an airport seen from above with a runway " + in(d.position) + " and " +
              (planes > 0 ? count(planes, "airplane", "airplanes") : std::string("no airplanes")) + ".");
}

void parking_lot(const SceneDescription& d, SceneRng& rng, std::vector<std::string>& c) {
  const int cars = d.count("car");
  c.push_back(prefix(rng) + " a parking lot that is " + d.density + ".");
  c.push_back(approx(cars) + (cars == 1 ? " car is" : " cars are") + " parked in rows in a parking lot.");
  c.push_back(with_article(d.density) + " parking lot with white lines marking the parking spaces.");
  c.push_back(d.density == "almost full"
                  ? "cars of many colors fill almost every space of a " + d.size + " parking lot."
              : d.density == "half full" ? "about half of the spaces of a " + d.size + " parking lot are taken by cars."
                                         : "most spaces of a " + d.size + " parking lot are empty, with a few cars.");
  c.push_back(d.has("trees") ? "a parking lot surrounded by green trees and grass."
                             : "a parking lot covering the whole image with rows of parking spaces.");
  c.push_back("rows of parking spaces in " + with_article(d.density) + " parking lot, seen from above.");
}

}  // namespace

std::vector<std::string> scene_captions(const SceneDescription& d, std::uint64_t caption_seed) {
  SceneRng rng(caption_seed);
  std::vector<std::string> candidates;
  switch (d.scene) {
    case SceneClass::farmland: farmland(d, rng, candidates); break;
    case SceneClass::forest: forest(d, rng, candidates); break;
    case SceneClass::river: river(d, rng, candidates); break;
    case SceneClass::lake: lake(d, rng, candidates); break;
    case SceneClass::beach: beach(d, rng, candidates); break;
    case SceneClass::harbor: harbor(d, rng, candidates); break;
    case SceneClass::dense_residential: dense_residential(d, rng, candidates); break;
    case SceneClass::sparse_residential: sparse_residential(d, rng, candidates); break;
    case SceneClass::industrial: industrial(d, rng, candidates); break;
    case SceneClass::highway: highway(d, rng, candidates); break;
    case SceneClass::airport: airport(d, rng, candidates); break;
    case SceneClass::parking_lot: parking_lot(d, rng, candidates); break;
    case SceneClass::desert: desert(d, rng, candidates); break;
  }
  rng.shuffle(std::span<std::string>(candidates));
  std::vector<std::string> captions;
  for (auto& s : candidates) {
    if (captions.size() == kCaptionsPerImage) break;
    if (std::find(captions.begin(), captions.end(), s) == captions.end()) captions.push_back(std::move(s));
  }
  TORCH_CHECK(captions.size() == kCaptionsPerImage, "scene class ", scene_class_name(d.scene), " produced only ",
              captions.size(), " different captions");
  return captions;
}

}  // namespace rsclip::data
