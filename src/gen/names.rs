//! Plausible names for synthetic entities: persons from the naming conventions of their
//! region, and companies from a group brand, an activity and the legal form of their
//! jurisdiction ("Northgate Logistics (Singapore) Pte. Ltd.", `OOO "Uralmash-Trading"`,
//! "Shenzhen Huaxin Technology Co., Ltd.").
//!
//! Subsidiaries share their group's brand, as in real groups, so that a name search for a
//! brand finds a whole group, which is what makes name matching hard.
//!
//! Names are written straight into the registry's string arena, with no allocation per name.

use std::fmt::Write;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A naming convention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    Anglo,
    German,
    Dutch,
    French,
    Iberian,
    Italian,
    Nordic,
    Greek,
    Central,
    Slavic,
    Chinese,
    Japanese,
    Korean,
    Indian,
    Arabic,
    Persian,
    Turkish,
    Malay,
}

/// Given names (male, then female) and family names, comma-separated.
fn people(r: Region) -> [&'static str; 3] {
    use Region::*;
    match r {
        Anglo => [
            "James, John, Robert, Michael, William, David, Richard, Thomas, Charles, Daniel, Matthew, Andrew, George, Edward, Oliver, Henry, Peter, Simon",
            "Mary, Elizabeth, Sarah, Jennifer, Emma, Charlotte, Olivia, Susan, Margaret, Catherine, Anne, Helen, Victoria, Lucy, Rachel, Claire",
            "Smith, Johnson, Williams, Brown, Jones, Taylor, Davies, Wilson, Evans, Thomas, Roberts, Walker, Wright, Thompson, White, Hughes, Edwards, Green, Hall, Wood, Harris, Clarke, Jackson, Turner, Hill, Moore, Cooper, Ward, Morris, King, Baker, Harrison, Morgan, Mitchell, Campbell, Stewart, Murphy, Kelly, Reid, Fraser",
        ],
        German => [
            "Thomas, Michael, Andreas, Stefan, Klaus, Jürgen, Wolfgang, Markus, Frank, Peter, Hans, Matthias, Tobias, Florian, Lukas, Johannes",
            "Sabine, Claudia, Petra, Monika, Andrea, Julia, Katrin, Anna, Susanne, Birgit, Laura, Lena, Ursula, Heike",
            "Müller, Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, Becker, Schulz, Hoffmann, Koch, Richter, Klein, Wolf, Schröder, Neumann, Schwarz, Zimmermann, Braun, Hofmann, Krüger, Hartmann, Lange, Werner, Huber, Baumann, Keller, Brunner",
        ],
        Dutch => [
            "Jan, Pieter, Hendrik, Willem, Cornelis, Johannes, Dirk, Maarten, Sander, Bas, Joost, Ruud, Thijs, Wouter",
            "Anna, Maria, Johanna, Sanne, Eva, Femke, Lotte, Anouk, Inge, Marieke, Sophie, Ingrid",
            "de Jong, Jansen, de Vries, van den Berg, van Dijk, Bakker, Janssen, Visser, Smit, Meijer, de Boer, Mulder, de Groot, Bos, Vos, Peters, Hendriks, van Leeuwen, Dekker, Brouwer, Dubois, Claes, Peeters, Maes",
        ],
        French => [
            "Jean, Pierre, Michel, Philippe, Alain, Nicolas, François, Laurent, Olivier, Julien, Antoine, Luc, Henri, Marc, Guillaume",
            "Marie, Nathalie, Isabelle, Sylvie, Catherine, Sophie, Camille, Claire, Céline, Valérie, Juliette, Manon, Hélène",
            "Martin, Bernard, Dubois, Thomas, Robert, Richard, Petit, Durand, Leroy, Moreau, Simon, Laurent, Lefebvre, Michel, Garcia, David, Bertrand, Roux, Vincent, Fournier, Morel, Girard, Bonnet, Dupont, Lambert, Fontaine, Rousseau",
        ],
        Iberian => [
            "José, Antonio, Manuel, Francisco, Juan, Carlos, Luis, Javier, Miguel, Pedro, Jorge, Alejandro, Rafael, Fernando, João, Ricardo",
            "María, Carmen, Ana, Isabel, Laura, Lucía, Marta, Elena, Sofía, Paula, Cristina, Beatriz, Gabriela, Fernanda",
            "García, Fernández, González, Rodríguez, López, Martínez, Sánchez, Pérez, Gómez, Martín, Jiménez, Ruiz, Hernández, Díaz, Moreno, Álvarez, Romero, Silva, Santos, Oliveira, Souza, Costa, Pereira, Ramírez, Torres, Flores, Vargas, Castillo",
        ],
        Italian => [
            "Giuseppe, Giovanni, Antonio, Mario, Luigi, Francesco, Marco, Alessandro, Andrea, Roberto, Stefano, Paolo, Matteo, Lorenzo",
            "Maria, Anna, Giulia, Francesca, Chiara, Sara, Laura, Valentina, Elena, Alessandra, Federica, Paola",
            "Rossi, Russo, Ferrari, Esposito, Bianchi, Romano, Colombo, Ricci, Marino, Greco, Bruno, Gallo, Conti, De Luca, Mancini, Costa, Giordano, Rizzo, Lombardi, Moretti, Borg, Camilleri, Vella, Farrugia",
        ],
        Nordic => [
            "Lars, Anders, Johan, Erik, Per, Nils, Karl, Mikael, Jan, Henrik, Ole, Mikko, Jukka, Magnus",
            "Anna, Eva, Maria, Karin, Kristina, Ingrid, Sara, Emma, Hanna, Kirsten, Liisa, Astrid",
            "Andersson, Johansson, Karlsson, Nilsson, Eriksson, Larsson, Olsson, Persson, Hansen, Johansen, Olsen, Jensen, Nielsen, Pedersen, Christensen, Korhonen, Virtanen, Mäkinen, Nieminen, Berg, Lindqvist, Haugen",
        ],
        Greek => [
            "Georgios, Dimitrios, Konstantinos, Ioannis, Nikolaos, Andreas, Christos, Panagiotis, Michalis, Stavros, Kyriakos",
            "Maria, Eleni, Aikaterini, Vasiliki, Sofia, Anna, Despina, Ioanna, Georgia, Christina",
            "Papadopoulos, Georgiou, Konstantinou, Nikolaou, Ioannou, Christodoulou, Charalambous, Papageorgiou, Vasiliou, Michael, Andreou, Demetriou, Kyriakou, Antoniou, Pavlou, Savva",
        ],
        Central => [
            "Piotr, Krzysztof, Andrzej, Tomasz, Paweł, Jan, Petr, Martin, Jiří, László, Gábor, Zoltán, Andrei, Mihai, Ion",
            "Anna, Maria, Katarzyna, Agnieszka, Małgorzata, Jana, Eva, Lenka, Katalin, Erzsébet, Elena, Ioana",
            "Nowak, Kowalski, Wiśniewski, Wójcik, Kowalczyk, Kamiński, Lewandowski, Zieliński, Novák, Svoboda, Novotný, Dvořák, Nagy, Kovács, Tóth, Szabó, Horváth, Popescu, Ionescu, Popa, Dumitru, Stan",
        ],
        Slavic => [
            "Sergei, Alexander, Dmitry, Andrei, Alexei, Vladimir, Igor, Mikhail, Oleg, Yuri, Nikolai, Viktor, Roman, Pavel, Arkady, Gennady, Boris, Oleksandr, Nurlan",
            "Elena, Olga, Tatiana, Natalia, Irina, Svetlana, Anna, Maria, Yulia, Ekaterina, Marina, Oksana",
            "Ivanov, Smirnov, Kuznetsov, Popov, Vasiliev, Petrov, Sokolov, Mikhailov, Novikov, Fedorov, Morozov, Volkov, Alekseev, Lebedev, Semenov, Egorov, Pavlov, Kozlov, Stepanov, Nikolaev, Orlov, Makarov, Zakharov, Zaitsev, Soloviev, Borisov, Yakovlev, Grigoriev, Romanov, Vorobiev, Melnyk, Shevchenko, Bondarenko, Kovalenko, Nurmagambetov",
        ],
        Chinese => [
            "Wei, Jun, Lei, Qiang, Jian, Ming, Hao, Tao, Yong, Jie, Bin, Gang, Hui, Feng, Chao, Zhiwei, Jianguo, Xiaoming",
            "Fang, Na, Li, Jing, Ying, Xiu, Yan, Min, Hong, Juan, Xia, Ling, Mei, Hua, Xiaoyan",
            "Wang, Li, Zhang, Liu, Chen, Yang, Huang, Zhao, Wu, Zhou, Xu, Sun, Ma, Zhu, Hu, Guo, He, Lin, Luo, Gao, Zheng, Liang, Xie, Song, Tang, Han, Feng, Deng, Cao, Peng, Zeng, Xiao, Tan, Lam, Chan, Wong, Cheung, Ng, Tan",
        ],
        Japanese => [
            "Hiroshi, Takashi, Kenji, Satoshi, Makoto, Kazuo, Yoshio, Takeshi, Akira, Daisuke, Shinji, Tetsuya",
            "Yoko, Keiko, Akiko, Yuki, Naoko, Tomoko, Sachiko, Emi, Haruka, Mai",
            "Sato, Suzuki, Takahashi, Tanaka, Watanabe, Ito, Yamamoto, Nakamura, Kobayashi, Kato, Yoshida, Yamada, Sasaki, Yamaguchi, Matsumoto, Inoue, Kimura, Hayashi, Shimizu, Mori",
        ],
        Korean => [
            "Min-jun, Seo-jun, Ji-hoon, Hyun-woo, Dong-hyun, Sung-min, Jae-won, Young-ho, Chol, Song-il",
            "Seo-yeon, Ji-woo, Min-seo, Su-bin, Ji-yeon, Hye-jin, Eun-ji, Yoon-ah",
            "Kim, Lee, Park, Choi, Jung, Kang, Cho, Yoon, Jang, Lim, Han, Oh, Seo, Shin, Kwon, Hwang, Ri, Pak",
        ],
        Indian => [
            "Rajesh, Suresh, Ramesh, Amit, Anil, Sunil, Vijay, Sanjay, Rahul, Arun, Ravi, Deepak, Mukesh, Gautam, Nitin, Vikram",
            "Priya, Anjali, Sunita, Kavita, Pooja, Neha, Lakshmi, Meena, Divya, Asha, Rekha, Nisha",
            "Sharma, Patel, Singh, Kumar, Gupta, Shah, Mehta, Agarwal, Reddy, Rao, Iyer, Nair, Joshi, Desai, Jain, Malhotra, Kapoor, Chopra, Bansal, Mittal, Ambani, Menon, Pillai, Chatterjee",
        ],
        Arabic => [
            "Mohammed, Ahmed, Ali, Omar, Khalid, Abdullah, Hassan, Ibrahim, Youssef, Saeed, Hamad, Faisal, Tariq, Majid, Rashid, Sultan",
            "Fatima, Aisha, Mariam, Noura, Layla, Huda, Amira, Salma, Reem, Hessa, Dana, Lina",
            "Al Maktoum, Al Nahyan, Al Thani, Al Saud, Al Rashid, Al Hashimi, Al Mansouri, Al Mazrouei, Al Suwaidi, Al Qasimi, Al Shamsi, Al Zaabi, Haddad, Khoury, Nasser, Saleh, Hamdan, Mansour, Aziz, Karim, El Sayed, Abdel Rahman, Makhlouf, Assad",
        ],
        Persian => [
            "Ali, Reza, Mohammad, Hossein, Mehdi, Hassan, Amir, Saeed, Majid, Behrouz, Dariush, Kourosh",
            "Maryam, Fatemeh, Zahra, Leila, Sara, Shirin, Nasrin, Parisa, Mahsa, Niloufar",
            "Hosseini, Mohammadi, Rezaei, Ahmadi, Moradi, Karimi, Jafari, Rahimi, Hashemi, Ghasemi, Sadeghi, Mousavi, Tehrani, Esfahani, Shirazi, Rostami, Zarif, Larijani",
        ],
        Turkish => [
            "Mehmet, Mustafa, Ahmet, Ali, Hüseyin, Hasan, İbrahim, Murat, Emre, Burak, Kemal, Serkan",
            "Ayşe, Fatma, Emine, Hatice, Zeynep, Elif, Merve, Özlem, Selin, Derya",
            "Yılmaz, Kaya, Demir, Şahin, Çelik, Yıldız, Yıldırım, Öztürk, Aydın, Özdemir, Arslan, Doğan, Kılıç, Aslan, Koç, Kurt, Sabancı, Koçak",
        ],
        Malay => [
            "Ahmad, Muhammad, Abdul, Ismail, Razak, Hafiz, Budi, Agus, Joko, Hendra, Rizal, Bambang",
            "Siti, Nur, Aminah, Fatimah, Dewi, Sri, Putri, Wati, Ratna, Lestari",
            "bin Abdullah, bin Ismail, bin Hassan, Santoso, Wijaya, Hartono, Gunawan, Setiawan, Susanto, Halim, Tanoto, Salim, Hidayat, Kusuma, Pratama, Lim, Tan",
        ],
    }
}

/// Syllables that make group brands in regions whose brands are not English words.
fn syllables(r: Region) -> Option<&'static str> {
    use Region::*;
    Some(match r {
        Chinese => {
            "Hua, Zhong, Jin, Heng, Xin, Tai, Long, Sheng, Da, Kai, Bao, Fu, Rong, Tian, Hai, Guo, Ming, Yuan, Xing, Feng, Hong, Chang, An, Kang, Shun, Wei, Tong, Li, Hui, Ding"
        }
        Japanese => {
            "Fuji, Sakura, Nippon, Tokai, Daiichi, Mitsu, Sumi, Yama, Kawa, Taka, Nichi, Asahi, Kyo, Shin, Toyo, Hokku, Dai, Sanyo, Kana, Hoshi"
        }
        Korean => {
            "Han, Dae, Sam, Hyun, Sung, Il, Kum, Dong, Shin, Jin, Kuk, Woo, Hwa, Poong, Young, Chun"
        }
        Slavic => {
            "Neft, Gaz, Prom, Stroi, Trans, Energo, Agro, Metall, Invest, Tekh, Sib, Ural, Volga, Rus, Mash, Khim, Les, Ros, Nord, Don, Kama, Baltic, Techno, Avto, Servis"
        }
        Persian => {
            "Pars, Sepahan, Kaveh, Mellat, Tadbir, Saman, Kish, Arya, Azar, Khazar, Sina, Mobin, Jam, Tose, Navid, Behran"
        }
        Malay => {
            "Bumi, Jaya, Sinar, Mitra, Mega, Maju, Sentosa, Harapan, Abadi, Cahaya, Makmur, Indah, Sejahtera, Mulia, Sakti, Perkasa"
        }
        Arabic => {
            "Noor, Futtaim, Rashid, Jazeera, Khaleej, Waha, Safwa, Baraka, Falah, Majid, Zahra, Amal, Salam, Rayan, Bayan, Dar, Fajr, Hilal, Qamar, Nakheel"
        }
        _ => return None,
    })
}

const STEMS: &str = "North, South, East, West, Silver, Golden, Blue, Red, Green, Black, White, Oak, Pine, Ash, Elm, Stone, Iron, Star, Sun, Moon, River, Lake, Bridge, Crown, King, Queen, Fair, High, Clear, Bright, Bay, Harbor, Kings, Mill, Rock, Sand, Storm, Wind, Frost, Cedar, Maple, Rose, Hawk, Eagle, Fox, Wolf, Lion, Bear, Raven, Swan";
const TAILS: &str = "gate, field, stone, bridge, water, wood, ford, ridge, view, point, way, line, crest, mark, wick, haven, brook, dale, shore, port, vale, well, moor, hill, land, hurst, worth, ton, ley, mere";
const ADJECTIVES: &str = "Atlantic, Pacific, Global, Pinnacle, Summit, Apex, Vertex, Meridian, Horizon, Vanguard, Keystone, Cornerstone, Liberty, Heritage, Premier, Sterling, Crescent, Granite, Evergreen, Capital, Continental, Imperial, Royal, Allied, United, Central, Coastal, Alpine, Nordic, Orient";
const NOUNS: &str = "Harbour, Peak, Crest, Ridge, Bay, Point, Gate, Tower, Bridge, Arc, Circle, Anchor, Beacon, Compass, Falcon, Phoenix, Lighthouse, Meadow, Orchard, Forge";
const COINED: &str = "Veritas, Novum, Axion, Altura, Solara, Corvus, Lumina, Nexora, Aurelia, Vireo, Quantix, Zenara, Ardent, Cobalt, Helix, Kinetic, Optima, Prisma, Tessera, Valora, Aventis, Orbis, Primus, Strata, Vectis, Zephyr";

/// What a company does, for the middle of its name.
const ACTIVITIES: &str = "Logistics, Trading, Capital, Properties, Energy, Shipping, Technologies, Investments, Finance, Services, Resources, Mining, Pharmaceuticals, Foods, Engineering, International, Ventures, Asset Management, Real Estate, Construction, Industries, Chemicals, Metals, Telecom, Insurance, Securities, Healthcare, Agriculture, Marine, Aviation, Retail, Textiles, Electronics, Software, Consulting, Development, Leasing, Solar, Oil & Gas, Semiconductors, Automotive, Media, Hotels, Power, Water, Packaging, Steel, Cement, Paper, Logistics Services, Trade Finance, Commodities";

/// What a group's parent calls itself.
const PARENTS: &str =
    "Holdings, Group, International, Corporation, Industries, Holding, Enterprises, Global";

/// Special-purpose vehicles of buy-outs and financings.
const VEHICLES: &str = "Topco, Midco, Bidco, Holdco, Finco, Propco, Opco";

const PATRONYMICS: &str = "Ivanovich, Petrovich, Sergeyevich, Alexandrovich, Vladimirovich, Nikolaevich, Viktorovich, Borisovich, Mikhailovich, Yurievich, Andreyevich, Olegovich";

const CN_CITIES: &str = "Shenzhen, Shanghai, Beijing, Guangzhou, Hangzhou, Tianjin, Chongqing, Wuhan, Chengdu, Suzhou, Nanjing, Xiamen, Qingdao, Dalian, Ningbo";

const ROMAN: [&str; 8] = ["", " II", " III", " IV", " V", " VI", " VII", " VIII"];

fn split(s: &'static str) -> Vec<&'static str> {
    s.split(',').map(str::trim).collect()
}

struct People {
    male: Vec<&'static str>,
    female: Vec<&'static str>,
    family: Vec<&'static str>,
}

/// The word lists, split once.
pub struct Names {
    people: Vec<People>,
    syllables: Vec<Option<Vec<&'static str>>>,
    stems: Vec<&'static str>,
    tails: Vec<&'static str>,
    adjectives: Vec<&'static str>,
    nouns: Vec<&'static str>,
    coined: Vec<&'static str>,
    activities: Vec<&'static str>,
    parents: Vec<&'static str>,
    vehicles: Vec<&'static str>,
    cn_cities: Vec<&'static str>,
    patronymics: Vec<&'static str>,
}

const REGIONS: [Region; 18] = {
    use Region::*;
    [
        Anglo, German, Dutch, French, Iberian, Italian, Nordic, Greek, Central, Slavic, Chinese,
        Japanese, Korean, Indian, Arabic, Persian, Turkish, Malay,
    ]
};

fn pick<'a>(rng: &mut ChaCha8Rng, words: &[&'a str]) -> &'a str {
    words[rng.gen_range(0..words.len())]
}

/// How a company's name is put together.
pub struct CompanyName<'a> {
    pub brand: &'a str,
    pub role: Role,
    /// The region of the jurisdiction it is registered in, for city prefixes.
    pub registered_in: Region,
    /// "Singapore" in "(Singapore)" when the company is abroad from its group's home.
    pub abroad: Option<&'static str>,
    pub form: &'static str,
    pub form_first: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The parent of a group with subsidiaries.
    Parent,
    /// A company on its own.
    Standalone,
    Subsidiary,
}

impl Names {
    pub fn new() -> Self {
        Self {
            people: REGIONS
                .iter()
                .map(|&r| {
                    let [male, female, family] = people(r);
                    People {
                        male: split(male),
                        female: split(female),
                        family: split(family),
                    }
                })
                .collect(),
            syllables: REGIONS.iter().map(|&r| syllables(r).map(split)).collect(),
            stems: split(STEMS),
            tails: split(TAILS),
            adjectives: split(ADJECTIVES),
            nouns: split(NOUNS),
            coined: split(COINED),
            activities: split(ACTIVITIES),
            parents: split(PARENTS),
            vehicles: split(VEHICLES),
            cn_cities: split(CN_CITIES),
            patronymics: split(PATRONYMICS),
        }
    }

    fn people(&self, r: Region) -> &People {
        &self.people[r as usize]
    }

    /// A family name of a region, for brands and trusts named after a family.
    pub fn family(&self, rng: &mut ChaCha8Rng, r: Region) -> &'static str {
        pick(rng, &self.people(r).family)
    }

    /// A person's full name in the order their region writes it.
    pub fn person(&self, rng: &mut ChaCha8Rng, r: Region, out: &mut String) {
        let p = self.people(r);
        let female = rng.gen_bool(0.3);
        let given = pick(rng, if female { &p.female } else { &p.male });
        let family = pick(rng, &p.family);
        match r {
            Region::Chinese | Region::Korean => {
                let _ = write!(out, "{family} {given}");
            }
            Region::Slavic => {
                let _ = write!(out, "{given} ");
                if rng.gen_bool(0.5) {
                    // Sergeyevich for a son, Sergeyevna for a daughter.
                    let patronymic = pick(rng, &self.patronymics);
                    match patronymic.strip_suffix("ich").filter(|_| female) {
                        Some(stem) => {
                            let _ = write!(out, "{stem}na ");
                        }
                        None => {
                            let _ = write!(out, "{patronymic} ");
                        }
                    }
                }
                out.push_str(family);
                if female && (family.ends_with("ov") || family.ends_with("ev")) {
                    out.push('a');
                }
            }
            Region::Anglo if rng.gen_bool(0.2) => {
                let initial = char::from(b'A' + rng.gen_range(0..26u8));
                let _ = write!(out, "{given} {initial}. {family}");
            }
            _ => {
                let _ = write!(out, "{given} {family}");
            }
        }
    }

    /// A group brand in the style of its home region.
    pub fn brand(&self, rng: &mut ChaCha8Rng, r: Region, out: &mut String) {
        if let Some(syl) = &self.syllables[r as usize] {
            match r {
                Region::Arabic => {
                    let _ = write!(out, "Al {}", pick(rng, syl));
                }
                Region::Malay | Region::Persian => {
                    let _ = write!(out, "{} {}", pick(rng, syl), pick(rng, syl));
                }
                _ => {
                    let a = pick(rng, syl);
                    let b = pick(rng, syl).to_lowercase();
                    let _ = write!(out, "{a}{b}");
                }
            }
            return;
        }
        let x = rng.gen_range(0.0..1.0);
        if x < 0.45 {
            let _ = write!(out, "{}{}", pick(rng, &self.stems), pick(rng, &self.tails));
        } else if x < 0.70 {
            let _ = write!(
                out,
                "{} {}",
                pick(rng, &self.adjectives),
                pick(rng, &self.nouns)
            );
        } else if x < 0.85 {
            let a = self.family(rng, r);
            if rng.gen_bool(0.4) {
                let b = self.family(rng, r);
                let _ = write!(out, "{a} & {b}");
            } else {
                out.push_str(a);
            }
        } else if x < 0.95 {
            out.push_str(pick(rng, &self.coined));
        } else {
            for _ in 0..rng.gen_range(2..=4) {
                out.push(char::from(b'A' + rng.gen_range(0..26u8)));
            }
        }
    }

    /// A company's name.
    pub fn company(&self, rng: &mut ChaCha8Rng, n: &CompanyName, out: &mut String) {
        let start = out.len();
        if n.form_first {
            let _ = write!(out, "{} ", n.form);
        }
        if n.registered_in == Region::Chinese && n.form == "Co., Ltd." && rng.gen_bool(0.7) {
            let _ = write!(out, "{} ", pick(rng, &self.cn_cities));
        }
        let quoted = n.form_first && n.registered_in == Region::Slavic;
        if quoted {
            out.push('"');
        }
        out.push_str(n.brand);
        let activity = match n.role {
            Role::Parent => Some(pick(rng, &self.parents)),
            Role::Standalone => rng.gen_bool(0.7).then(|| pick(rng, &self.activities)),
            Role::Subsidiary => Some(pick(rng, &self.activities)),
        };
        if let Some(a) = activity {
            // Russian names join brand and activity with a hyphen: "Uralmash-Trading".
            out.push(if quoted { '-' } else { ' ' });
            out.push_str(a);
        }
        if n.role == Role::Subsidiary && rng.gen_bool(0.05) {
            if rng.gen_bool(0.5) {
                let _ = write!(out, " {}", pick(rng, &self.vehicles));
            } else {
                let _ = write!(out, " No. {}", rng.gen_range(1..=9));
            }
        }
        if let Some(label) = n.abroad {
            let _ = write!(out, " ({label})");
        }
        if quoted {
            out.push('"');
        }
        if !n.form_first && !n.form.is_empty() {
            let _ = write!(out, " {}", n.form);
        }
        debug_assert!(out.len() > start);
    }

    /// An investment fund's name.
    pub fn fund(&self, rng: &mut ChaCha8Rng, brand: &str, form: &str, out: &mut String) {
        let kind = pick(
            rng,
            &[
                "Capital Partners",
                "Global Equity Fund",
                "Growth Fund",
                "Infrastructure Fund",
                "Credit Opportunities Fund",
                "Special Situations Fund",
                "Real Estate Partners",
            ],
        );
        let vintage = ROMAN[rng.gen_range(0..ROMAN.len())];
        let _ = write!(out, "{brand} {kind}{vintage} {form}");
    }

    /// A family trust or foundation.
    pub fn trust(&self, rng: &mut ChaCha8Rng, family: &str, out: &mut String) {
        let kind = pick(
            rng,
            &[
                "Family Trust",
                "Foundation",
                "Settlement",
                "Trust",
                "Stiftung",
            ],
        );
        let _ = write!(out, "The {family} {kind}");
    }

    /// The agency that holds a state's shareholdings.
    pub fn government(&self, rng: &mut ChaCha8Rng, country: &str, out: &mut String) {
        let template = pick(
            rng,
            &[
                "Ministry of Finance of ",
                "State Property Fund of ",
                "Sovereign Investment Authority of ",
                "State Holding Company of ",
            ],
        );
        let _ = write!(out, "{template}{country}");
    }
}
