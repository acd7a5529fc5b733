"""Short natural prose in several languages, written for these tests (CC0), shared by the filter tests."""

EN = (
    "The old harbour town wakes up early. Fishermen check their nets while the bakery on the corner opens its "
    "doors, and the smell of fresh bread drifts down to the water. Visitors who arrive with the first ferry "
    "often walk along the sea wall to the lighthouse, which has guided ships into the bay for more than two "
    "hundred years. In the afternoon the market square fills with stalls that sell cheese, honey and pottery. "
    "Most shops close at six, but the cafes stay open until late."
)
DE = (
    "Die kleine Stadt liegt am Ufer eines ruhigen Sees und ist von dichten Wäldern umgeben. Im Sommer kommen "
    "viele Familien, um zu wandern, zu schwimmen oder mit dem Fahrrad die Umgebung zu erkunden. Das historische "
    "Rathaus aus dem sechzehnten Jahrhundert steht direkt am Marktplatz, wo jeden Samstag ein Wochenmarkt "
    "stattfindet. Abends sitzen die Gäste gern in den Gasthäusern und probieren regionale Spezialitäten. Der "
    "Bahnhof ist nur wenige Minuten vom Zentrum entfernt, z.B. zu Fuß über die alte Brücke."
)
FR = (
    "Le village se trouve au pied de la montagne, entre les vignes et la rivière. Chaque matin, les habitants "
    "se retrouvent au marché pour acheter du pain, des fromages et des légumes de saison. L'église romane, "
    "construite au douzième siècle, attire de nombreux visiteurs qui viennent admirer ses fresques. En été, "
    "des concerts sont organisés sur la place principale et les terrasses des cafés restent ouvertes tard le "
    "soir. La gare est à dix minutes à pied du centre."
)
ZH = (
    "这座小城位于湖边，四周环绕着茂密的森林。夏天有很多家庭来这里散步、游泳或者骑自行车。"
    "老市政厅建于十六世纪，就在市场广场旁边，每个星期六都有集市。晚上游客喜欢在餐馆里品尝当地的特色菜。"
    "火车站离市中心只有几分钟的路程。"
)
JA = (
    "この小さな町は湖のほとりにあり、深い森に囲まれています。夏には多くの家族が訪れ、散歩や水泳、"
    "サイクリングを楽しみます。古い市役所は十六世紀に建てられ、毎週土曜日には広場で市場が開かれます。"
    "夜になると、旅行者はレストランで地元の料理を味わいます。駅は町の中心から歩いて数分です。"
)
