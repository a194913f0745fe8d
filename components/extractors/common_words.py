"""Everyday English words that typo tolerance must never turn into catalog terms.

A shopper who writes "glue", "link", "submit" or "when" means those words, not the colour "blue", the
colour "pink", the product line "Summit" or the model "Wren", although each is one edit away. The
extractor never typo-corrects a word of this list (nor a spaCy stop word, nor a word of the NLU training
data outside entity annotations, nor a word of the catalog descriptions). Catalog words in the list
(the second half of each confusable group) do no harm: an exact catalog word is matched before any typo
correction is tried. Written for ShopAssist; extend it when a false positive shows up.
"""

from __future__ import annotations

from spacy.lang.en.stop_words import STOP_WORDS

_WORDS = """
hello hey hiya howdy thanks thank cheers please sorry okay yeah yes nope sure fine great good cool nice
order orders ordered ordering reorder buy bought purchase purchased pay paid payment card cards refund
refunds refunded return returns returned returning cancel cancelled canceled change changed exchange
ship shipped shipping shipment delivery deliver delivered arrive arrived arrives arriving track tracking
package parcel parcels box boxes address email mail phone number numbers code codes account login
password reset sign help agent human person someone manager support service customer chat talk
where when what which while whose whom why how here there these those this that then than them they
size sizes sized fit fits fitting fitted small smaller smallest large larger largest big bigger tight
loose long longer short shorter wide narrow narrower tall width length waist
colour colours color colors shade shades dark light bright pale plain pattern patterned
price prices priced cost costs cheap cheaper cheapest expensive budget sale sales deal deals discount
offer offers voucher coupon free total amount money spend spent euro euros dollar dollars bucks pound
pounds cents
product products item items thing things stuff style styles brand brands model models category range
stock available availability back restock restocked sold left store stores shop shops online website
show shows showing find finding found look looking looks see seen search searching browse want wants
wanted need needs needed like likes liked love loved hate hated wish get gets got give given take took
make made making keep kept send sent sending bring brought tell told know knew think thought try tried
come came went going gone said says ask asked answer answered wait waiting waited check checked
work works worked working broken broke damaged damage wrong missing lost stolen late early soon today
tomorrow yesterday week weeks month months year years day days hour hours minute minutes time times
glue link pint sink wink mink ink blur clue true due flue slue bleu
prey grew grow brew crew drew threw grey
wavy nave gave have save wave
crown grown drown frown brow blown flown
slack blank block back lack pack rack stack track
while write whit whine whale
greet greed breen queen
fellow mellow bellow hello hollow follow yellow
shows shots shoe shop shoot
hate cats hams what that hits huts
bugs bogs bass rags bays bogs begs
rocks locks sucks sacks lacks decks
means beans deans leans jeans
press dregs dress stress
packet racket socket pocket jacket rocket locket
goodie goodies hoodie noodle
sweeter sweated swatter seater sweat
submit summit summer
sale male pale tale vale valve value vile vane
when then wren wrench
birth birch
timer limber timber
train trial tail frail trail trails
harder barber
draft drafts drift
embed ember amber
freeze breeze
canon canyon
older elder alter alder
done tune june dine dude dune
knot unit knight
table sable cable
note vote tone tote
angle ankle uncle
cool pool tool wood wolf wool
main gain pain ruin rail raid rain
buffer suffer puffer
yield field fields filed
slip ship skip slim clip slam swim
warp trap wrath wrap
count courts curt court
biking liking hiking
cunning running
strike strode stripe stride
deck peck nick neck
crow
novel nova
narrow marrow barrow arrow harrow
pillow willow
apple maple
query quarry
total tidal
meadow shadow
orbit
ford fjord
lumen women human
marlow
atlas
home house office work school wedding party gift gifts present birthday christmas holiday holidays
winter summer spring autumn fall weather rain rainy cold warm hot sunny snow hiking running walking
running gym sport sports outdoor outdoors city travel trip beach festival weekend morning evening night
man men woman women kid kids child children boy boys girl girls baby wife husband mum mom dad son
daughter friend friends brother sister family mother father
new old nice pretty ugly comfy comfortable soft hard warm heavy lightweight waterproof quality
material materials fabric fabrics real fake genuine original
one two three four five six seven eight nine ten first second third last next pair pairs couple
also just only still even really very quite maybe perhaps probably actually already again
mean meant bean lean dean older elder alter adder ladder angle bolt best bell felt melt welt beat bent
birds slack flack boat book books boost bout foot root loot blown brows able cables cost cast chat coal
cot colt copier hopper cooper topper gotten count dream creak scream cram screw screws park bark dare
dank mark darn dart lark dregs dross tress rift drive rifts tune dunk duke dupe member members embed
extras yield wield fiend gravy pray tray grab preen greed greet biding hiding hiring hallow hoofed hooked
goody woody moody hood hooky racket rackets mean means bean beans lean knot knots unit units kit quit
barge lager charge fight might night right sight tight eight lights lint fine mine lane lie live lives
lines like lime wine dine pine nine vine lone lined song lung lone along taxi maxim mini mid mess mash
nary navvy heck nick alive range ranges pick punk pinky role poll toll doll short shorts shift skirt
skirts shoot shore shone show showed hoe seize steve slime slum skim slap lip flip slit smell stall mall
rock lock suck sack sick soak shock dock mock socks strap stray strew sued swede threat tread dread note
vote tone tots toe tore tube trait twirl turban urbane bale gale kale violent violence whine whale
quite pillow kind find mind wand wins wild wing bind windy food mood word fool woof warp rap crap peek
peck speak leak weak beak pear perk peal worth forth loader loaded pushover tampered passenger
passengers speaker speakers sneaky trainee trained jumped bumper feather heather lather liner lines
robber rubbed rubble crept creep canvass timer canon bombed boomer freeze falcons staple rocket socket
buffer suffer duffer puffin
""".split()

#: Words that are never typo-corrected into a catalog term.
COMMON_WORDS: frozenset[str] = frozenset(_WORDS) | frozenset(w.lower() for w in STOP_WORDS)
