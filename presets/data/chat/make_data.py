"""Write train.jsonl and eval.jsonl of the chat quickstart: short questions answered as "Answer: ... / Why: ...".

Every fact, question and explanation below was written for fttui; the arithmetic, conversion and counting
answers are computed, so they are right by construction. Run it again to regenerate the same files:
    python presets/data/chat/make_data.py
"""
from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 13
EVAL_ROWS = 40
SYSTEMS = ["You are a helpful assistant.", "You are a friendly tutor for a primary school class.",
           "You are the quiz master's assistant.", "Keep your replies short.", "You help students revise."]

CAPITALS = [  # country, capital, why
    ("France", "Paris", "Paris is the capital of France and the seat of its government."),
    ("Germany", "Berlin", "Berlin has been the capital of reunified Germany since 1990."),
    ("Italy", "Rome", "Rome is the capital of Italy, where its parliament meets."),
    ("Spain", "Madrid", "Madrid, in the centre of the country, is the capital of Spain."),
    ("Portugal", "Lisbon", "Lisbon, on the Atlantic coast, is the capital of Portugal."),
    ("Japan", "Tokyo", "Tokyo is Japan's capital and the seat of its government."),
    ("China", "Beijing", "Beijing is the capital of China, where its national government sits."),
    ("India", "New Delhi", "New Delhi is the seat of India's government and its capital."),
    ("Canada", "Ottawa", "Ottawa, in Ontario, is home to Canada's parliament; Toronto is larger but not the capital."),
    ("Australia", "Canberra", "Canberra was built as the capital, a compromise between Sydney and Melbourne."),
    ("Brazil", "Brasília", "Brasília replaced Rio de Janeiro as Brazil's capital in 1960."),
    ("Argentina", "Buenos Aires", "Buenos Aires is the capital and largest city of Argentina."),
    ("Egypt", "Cairo", "Cairo, on the Nile, is the capital of Egypt."),
    ("Kenya", "Nairobi", "Nairobi is the capital and largest city of Kenya."),
    ("Nigeria", "Abuja", "Abuja replaced Lagos as Nigeria's capital in 1991."),
    ("Russia", "Moscow", "Moscow is the capital of Russia and the seat of its government."),
    ("Norway", "Oslo", "Oslo is the capital of Norway, at the head of the Oslofjord."),
    ("Sweden", "Stockholm", "Stockholm is the capital of Sweden, built on fourteen islands."),
    ("Finland", "Helsinki", "Helsinki is the capital of Finland, on the Gulf of Finland."),
    ("Denmark", "Copenhagen", "Copenhagen is the capital of Denmark and the seat of its parliament."),
    ("Poland", "Warsaw", "Warsaw, on the Vistula river, is the capital of Poland."),
    ("Greece", "Athens", "Athens is the capital of Greece and one of the oldest cities in Europe."),
    ("Turkey", "Ankara", "Ankara became Turkey's capital in 1923; Istanbul is larger but not the capital."),
    ("Ireland", "Dublin", "Dublin is the capital of Ireland, on the river Liffey."),
    ("the Netherlands", "Amsterdam", "Amsterdam is the capital by the constitution, although the government sits in The Hague."),
    ("Belgium", "Brussels", "Brussels is the capital of Belgium and hosts many EU institutions."),
    ("Austria", "Vienna", "Vienna, on the Danube, is the capital of Austria."),
    ("Switzerland", "Bern", "Bern is the federal city where Switzerland's government sits."),
    ("Mexico", "Mexico City", "Mexico City is the capital of Mexico and the seat of its government."),
    ("Peru", "Lima", "Lima, on the Pacific coast, is the capital of Peru."),
    ("Chile", "Santiago", "Santiago is the capital of Chile, in its central valley."),
    ("Colombia", "Bogotá", "Bogotá, high in the Andes, is the capital of Colombia."),
    ("South Korea", "Seoul", "Seoul is the capital of South Korea, on the Han river."),
    ("Thailand", "Bangkok", "Bangkok is the capital of Thailand, on the Chao Phraya river."),
    ("Vietnam", "Hanoi", "Hanoi is the capital of Vietnam; Ho Chi Minh City is larger."),
    ("Indonesia", "Jakarta", "Jakarta, on the island of Java, is the capital of Indonesia."),
    ("the Philippines", "Manila", "Manila, on the island of Luzon, is the capital of the Philippines."),
    ("New Zealand", "Wellington", "Wellington, at the south of the North Island, is New Zealand's capital."),
    ("Hungary", "Budapest", "Budapest, on both banks of the Danube, is the capital of Hungary."),
    ("the Czech Republic", "Prague", "Prague, on the Vltava river, is the capital of the Czech Republic."),
    ("Morocco", "Rabat", "Rabat is the capital of Morocco; Casablanca is the largest city."),
    ("Ghana", "Accra", "Accra, on the Gulf of Guinea, is the capital of Ghana."),
    ("Ethiopia", "Addis Ababa", "Addis Ababa is the capital of Ethiopia and hosts the African Union."),
    ("Iceland", "Reykjavík", "Reykjavík is the capital of Iceland and its largest town."),
    ("Cuba", "Havana", "Havana is the capital of Cuba, on its north coast."),
]
CAPITAL_ASKS = ["What is the capital of {c}?", "Which city is the capital of {c}?", "Name the capital of {c}.",
                "What's the capital city of {c}?", "Tell me the capital of {c}."]

FACTS = [  # question, answer, why
    ("How many legs does a spider have?", "Eight.", "Spiders are arachnids, and arachnids have eight legs."),
    ("How many legs does an insect have?", "Six.", "Every adult insect has three pairs of legs."),
    ("What gas do plants take in to make their food?", "Carbon dioxide.", "In photosynthesis, plants turn carbon dioxide and water into sugar using sunlight."),
    ("What gas do we need to breathe in to live?", "Oxygen.", "Our cells use oxygen to release energy from food."),
    ("What is the largest planet in our solar system?", "Jupiter.", "Jupiter is more than eleven times as wide as Earth."),
    ("Which planet is closest to the Sun?", "Mercury.", "Mercury has the smallest orbit of the eight planets."),
    ("Which planet is called the Red Planet?", "Mars.", "Iron oxide, that is rust, in its dust makes Mars look red."),
    ("At what temperature does water freeze in degrees Celsius?", "0 °C.", "The Celsius scale puts 0 degrees at the freezing point of water."),
    ("At what temperature does water boil at sea level in degrees Celsius?", "100 °C.", "The Celsius scale puts the boiling point of water at sea level at 100 degrees."),
    ("How many days are in a leap year?", "366.", "A leap year adds 29 February to the usual 365 days."),
    ("How many continents are there?", "Seven.", "The usual count is Africa, Antarctica, Asia, Australia, Europe, North America and South America."),
    ("What is the largest ocean on Earth?", "The Pacific Ocean.", "It covers about a third of Earth's surface, more than all the land together."),
    ("What is the chemical symbol for gold?", "Au.", "It comes from aurum, the Latin word for gold."),
    ("What is the chemical formula of water?", "H2O.", "Each water molecule has two hydrogen atoms and one oxygen atom."),
    ("Who wrote Romeo and Juliet?", "William Shakespeare.", "Shakespeare wrote the play in the 1590s."),
    ("What is the fastest land animal?", "The cheetah.", "A cheetah can sprint at about 100 km/h over short distances."),
    ("What is the largest animal that has ever lived?", "The blue whale.", "A blue whale can grow to about 30 metres long, larger than any known dinosaur."),
    ("How many sides does a hexagon have?", "Six.", "Hex comes from the Greek word for six."),
    ("How many sides does a triangle have?", "Three.", "Tri means three, as in tricycle."),
    ("How many degrees are in a right angle?", "90.", "A right angle is a quarter of a full turn, and a full turn is 360 degrees."),
    ("What do the angles of a triangle add up to?", "180 degrees.", "On a flat surface the three angles of any triangle always sum to 180 degrees."),
    ("What do bees make from nectar?", "Honey.", "Bees turn flower nectar into honey and store it in their hive."),
    ("Which organ pumps blood around the body?", "The heart.", "Its muscle squeezes about once a second to push blood through the vessels."),
    ("How many bones are in an adult human body?", "206.", "Babies have more, but some bones fuse together as they grow."),
    ("What is the hardest natural material?", "Diamond.", "Its carbon atoms are bonded in a tight, rigid lattice."),
    ("Which star is closest to Earth?", "The Sun.", "The Sun is about 150 million km away; the next nearest star is over 4 light-years away."),
    ("What is the tallest mountain above sea level?", "Mount Everest.", "Its summit is about 8,849 metres above sea level."),
    ("What is the longest river in Africa?", "The Nile.", "The Nile flows about 6,650 km north to the Mediterranean Sea."),
    ("What colour do you get by mixing blue and yellow paint?", "Green.", "Blue and yellow are primary colours of paint, and together they make green."),
    ("What colour do you get by mixing red and white paint?", "Pink.", "White lightens red into pink."),
    ("What colour do you get by mixing red and yellow paint?", "Orange.", "Red and yellow are primary colours of paint, and together they make orange."),
    ("How many hours are in a day?", "24.", "Earth turns once on its axis in about 24 hours."),
    ("What language is mainly spoken in Brazil?", "Portuguese.", "Brazil was a Portuguese colony until 1822."),
    ("What is the currency of Japan?", "The yen.", "The yen has been Japan's currency since 1871."),
    ("Which animal is called the king of the jungle?", "The lion.", "It is an old nickname, although lions really live in grasslands and savannas."),
    ("What does a caterpillar turn into?", "A butterfly or a moth.", "Inside a chrysalis or cocoon it changes into its adult form."),
    ("What is the largest hot desert in the world?", "The Sahara.", "It covers about 9 million square km of North Africa."),
    ("How many players does a football team have on the pitch?", "Eleven.", "Each side has ten outfield players and one goalkeeper."),
    ("How many strings does a standard guitar have?", "Six.", "They are tuned E, A, D, G, B and E from low to high."),
    ("What is the square root of 81?", "9.", "9 × 9 = 81."),
    ("What is the square root of 144?", "12.", "12 × 12 = 144."),
    ("Which metal is liquid at room temperature?", "Mercury.", "Mercury melts at about -39 °C, far below room temperature."),
    ("Which part of a plant takes in water from the soil?", "The roots.", "Tiny root hairs absorb water and minerals from the soil."),
    ("What force pulls things down towards the ground?", "Gravity.", "Earth's mass attracts everything near it."),
    ("How many planets are in our solar system?", "Eight.", "Pluto was reclassified as a dwarf planet in 2006."),
    ("What mainly causes the ocean tides?", "The Moon's gravity.", "It pulls on the oceans, raising bulges of water that move as Earth turns."),
    ("What do you call a baby cat?", "A kitten.", "Kitten is the word for a young cat."),
    ("What do you call a baby dog?", "A puppy.", "Puppy is the word for a young dog."),
    ("What do you call a baby sheep?", "A lamb.", "Lamb is the word for a young sheep."),
    ("What do you call a baby cow?", "A calf.", "Calf is the word for a young cow."),
    ("What do you call a group of wolves?", "A pack.", "Wolves live and hunt together in family groups called packs."),
    ("How many weeks are in a year?", "52.", "52 weeks of 7 days make 364 days, one day short of a common year."),
    ("What is the first element in the periodic table?", "Hydrogen.", "Hydrogen has one proton, the fewest of any element."),
    ("Which instrument has 88 keys?", "The piano.", "A standard piano has 52 white keys and 36 black keys."),
    ("In which direction does the Sun rise?", "In the east.", "Earth spins from west to east, so the Sun comes up over the eastern horizon."),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci.", "He painted it in the early 1500s."),
    ("What is the largest country by area?", "Russia.", "Russia covers about 17 million square km across Europe and Asia."),
    ("What is the smallest prime number?", "2.", "2 is divisible only by 1 and itself, and 1 does not count as prime."),
    ("What do we call frozen water?", "Ice.", "Water turns solid below 0 °C."),
    ("What is the main ingredient of guacamole?", "Avocado.", "Guacamole is mashed avocado with lime, salt and often onion and chilli."),
    ("What does a thermometer measure?", "Temperature.", "Thermo means heat, and a meter measures."),
    ("Which bird is a symbol of peace?", "The dove.", "A white dove with an olive branch is an old sign of peace."),
]

OPPOSITES = [
    ("hot", "cold", "hot means a high temperature and cold a low one"),
    ("big", "small", "big describes a large size and small a little one"),
    ("up", "down", "up points away from the ground and down towards it"),
    ("happy", "sad", "happy means feeling joy and sad feeling sorrow"),
    ("fast", "slow", "fast means moving at great speed and slow at little speed"),
    ("open", "closed", "open lets things through and closed does not"),
    ("early", "late", "early means before the expected time and late after it"),
    ("full", "empty", "full means holding as much as possible and empty holding nothing"),
    ("strong", "weak", "strong means having much power and weak little power"),
    ("hard", "soft", "hard resists pressing and soft gives way"),
    ("wet", "dry", "wet means covered in water and dry free of it"),
    ("loud", "quiet", "loud means making much noise and quiet little noise"),
    ("young", "old", "young means having lived a short time and old a long time"),
    ("left", "right", "left and right are the two opposite sides"),
    ("win", "lose", "to win is to come first and to lose is to be beaten"),
    ("begin", "end", "to begin is to start something and to end is to finish it"),
    ("push", "pull", "to push moves something away from you and to pull moves it towards you"),
    ("above", "below", "above means higher than something and below lower than it"),
    ("inside", "outside", "inside means within something and outside beyond it"),
    ("thick", "thin", "thick means wide from side to side and thin narrow"),
    ("buy", "sell", "to buy is to pay for something and to sell is to be paid for it"),
    ("give", "take", "to give hands something over and to take receives it"),
    ("always", "never", "always means at every time and never at no time"),
    ("light", "dark", "light means bright and dark means without light"),
    ("true", "false", "true agrees with the facts and false does not"),
    ("arrive", "leave", "to arrive is to come to a place and to leave is to go away from it"),
]

THINGS = ["apples", "pencils", "marbles", "stickers", "books", "biscuits", "shells", "cards"]
WORDS = ["garden", "window", "planet", "river", "elephant", "banana", "castle", "orange", "teacher", "pencil",
         "mountain", "rabbit", "kitchen", "bicycle", "tomato", "library", "summer", "forest"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
UNITS = [("hours", "minutes", 60, "An hour has 60 minutes"), ("minutes", "seconds", 60, "A minute has 60 seconds"),
         ("kilometres", "metres", 1000, "A kilometre is 1000 metres"), ("metres", "centimetres", 100, "A metre is 100 centimetres"),
         ("kilograms", "grams", 1000, "A kilogram is 1000 grams"), ("days", "hours", 24, "A day has 24 hours"),
         ("weeks", "days", 7, "A week has 7 days"), ("litres", "millilitres", 1000, "A litre is 1000 millilitres")]


def reply(answer: str, why: str) -> str:
    return f"Answer: {answer}\nWhy: {why}"


def arithmetic(rng: random.Random) -> list[tuple[str, str, str]]:
    items = []
    for _ in range(18):
        a, b = rng.randint(3, 60), rng.randint(2, 40)
        ask = rng.choice(["What is {a} + {b}?", "What is {a} plus {b}?", "Add {a} and {b}."])
        items.append((ask.format(a=a, b=b), f"{a + b}.", f"{a} + {b} = {a + b}."))
    for _ in range(14):
        a = rng.randint(20, 99)
        b = rng.randint(2, a - 1)
        ask = rng.choice(["What is {a} - {b}?", "What is {a} minus {b}?", "Take {b} away from {a}."])
        items.append((ask.format(a=a, b=b), f"{a - b}.", f"{a} - {b} = {a - b}."))
    for _ in range(14):
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        ask = rng.choice(["What is {a} times {b}?", "What is {a} × {b}?", "Multiply {a} by {b}."])
        items.append((ask.format(a=a, b=b), f"{a * b}.", f"{a} × {b} = {a * b}."))
    for _ in range(10):
        a, b, thing = rng.randint(2, 9), rng.randint(2, 9), rng.choice(THINGS)
        items.append((f"I have {a} {thing} and get {b} more. How many {thing} do I have now?",
                      f"{a + b} {thing}.", f"{a} + {b} = {a + b}."))
    return items


def counting(rng: random.Random) -> list[tuple[str, str, str]]:
    items = []
    for word in rng.sample(WORDS, 12):
        items.append((f"How many letters are in the word '{word}'?", f"{len(word)}.",
                      f"{'-'.join(word)} has {len(word)} letters."))
    for i in rng.sample(range(7), 6):
        items.append((f"What day comes after {DAYS[i]}?", f"{DAYS[(i + 1) % 7]}.",
                      f"The week runs Monday to Sunday, and {DAYS[(i + 1) % 7]} follows {DAYS[i]}."))
    for i in rng.sample(range(12), 8):
        items.append((f"Which month comes before {MONTHS[i]}?", f"{MONTHS[i - 1]}.",
                      f"{MONTHS[i - 1]} is month {(i - 1) % 12 + 1} of the year and {MONTHS[i]} is month {i + 1}."))
    for n in rng.sample(range(11, 99), 10):
        even = n % 2 == 0
        items.append((f"Is {n} an even number?", "Yes." if even else "No.",
                      f"{n} ends in {n % 10}, and even numbers end in 0, 2, 4, 6 or 8."))
    for _ in range(10):
        big, small = rng.sample(range(10, 99), 2)
        big, small = max(big, small), min(big, small)
        pair = [big, small]
        rng.shuffle(pair)
        items.append((f"Which is larger, {pair[0]} or {pair[1]}?", f"{big}.", f"{big} - {small} = {big - small}, so {big} is more."))
    for src, dst, factor, rule in rng.sample(UNITS, len(UNITS)) * 2:
        n = rng.randint(2, 9)
        items.append((f"How many {dst} are in {n} {src}?", f"{n * factor} {dst}.", f"{rule}, and {n} × {factor} = {n * factor}."))
    return items


def conversations() -> list[dict]:
    rng = random.Random(SEED)
    items = [(rng.choice(CAPITAL_ASKS).format(c=c), f"{city}.", why) for c, city, why in CAPITALS]
    items += FACTS
    items += [(f"What is the opposite of '{a}'?", f"{b.capitalize()}.", f"{why[0].upper()}{why[1:]}.") for a, b, why in OPPOSITES]
    items += arithmetic(rng) + counting(rng)
    items = list({q: (q, a, w) for q, a, w in items}.values())  # one conversation per question
    rng.shuffle(items)
    rows = []
    while items:
        turns = [items.pop()] + ([items.pop()] if items and rng.random() < 0.12 else [])
        messages = [{"role": "system", "content": rng.choice(SYSTEMS)}] if rng.random() < 0.3 else []
        for question, answer, why in turns:
            messages += [{"role": "user", "content": question}, {"role": "assistant", "content": reply(answer, why)}]
        rows.append({"messages": messages})
    return rows


def main() -> None:
    rows = conversations()
    train, held = rows[EVAL_ROWS:], rows[:EVAL_ROWS]
    for name, part in (("train", train), ("eval", held)):
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in part)
        (HERE / f"{name}.jsonl").write_text(text, encoding="utf-8")
        print(f"{name}.jsonl: {len(part)} conversations")


if __name__ == "__main__":
    main()
