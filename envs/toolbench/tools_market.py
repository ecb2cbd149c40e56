"""Finance, eCommerce and Food tools."""

from __future__ import annotations

from steptool_envs.toolbench.endpoints import Spec, ToolSpec, number, page, string
from steptool_envs.toolbench.handlers import ByField, Convert, Detail, Embedded, Search
from steptool_envs.toolbench.world import World
from steptool_gym.status import Status

__all__ = ["tools"]

_QUOTE_ASKS = ("What's the current stock price of {e}?", "Get me the latest share price for {e}.")


def _finance(w: World) -> list[ToolSpec]:
    st, cr = w.stocks, w.cryptos
    symbol = string("symbol", "Ticker symbol", "AAPL")
    return [
        ToolSpec("Finance", "Yahoo Finance", "Stock quotes, company profiles and price history.", (
            Spec("Auto Complete", "Ticker symbols matching a company name.",
                 Search(st, "q", {"symbol": "symbol", "shortname": "company", "exchange": "exchange"}, wrap="quotes"),
                 (string("q", "Company name", "Apple"),)),
            Spec("Get Quotes", "Latest price and daily change of a symbol.",
                 Detail(st, "symbol", {"symbol": "symbol", "regularMarketPrice": "price",
                                       "regularMarketChangePercent": "change_pct"}), (symbol,),
                 asks=("What's the current stock price of {e} and today's change?",
                       "How is {e} stock doing today? Give me the price and percent change."),
                 facts=("regularMarketPrice", "regularMarketChangePercent"), flaky=Status.RATE_LIMIT),
            Spec("Get Profile", "Sector, CEO and headcount of a symbol.",
                 Detail(st, "symbol", {"symbol": "symbol", "sector": "sector", "ceo": "ceo",
                                       "fullTimeEmployees": "employees"}), (symbol,),
                 asks=("Who is the CEO of {e}, and which sector is it in?", "Which sector is {e} in, and who runs it?"),
                 facts=("ceo", "sector")),
            Spec("Get History", "Daily closing prices of a symbol.",
                 Embedded(st, "symbol", "history", "days", {"symbol": "symbol"}), (symbol,),
                 (number("days", "Number of trading days", 5),),
                 asks=("What were the recent closing prices of {e}?",), facts=("history.0.close",)),
        )),
        ToolSpec("Finance", "Alpha Vantage", "Realtime and historical stock market data.", (
            Spec("Symbol Search", "Best-matching symbols for keywords.",
                 Search(st, "keywords", {"symbol": "symbol", "name": "company"}, wrap="bestMatches"),
                 (string("keywords", "Company keywords", "Tesla"),)),
            Spec("Global Quote", "Price and change of a symbol.",
                 Detail(st, "symbol", {"symbol": "symbol", "price": "price", "change_percent": "change_pct"}),
                 (symbol,), asks=_QUOTE_ASKS, facts=("price",)),
            Spec("Company Overview", "Valuation ratios of a symbol.",
                 Detail(st, "symbol", {"symbol": "symbol", "PERatio": "pe_ratio", "DividendYield": "dividend_yield",
                                       "MarketCapitalization_busd": "market_cap_busd"}), (symbol,),
                 asks=("What's the P/E ratio and dividend yield of {e}?",
                       "Give me the price-to-earnings ratio and the dividend yield of {e}."),
                 facts=("PERatio", "DividendYield")),
        )),
        ToolSpec("Finance", "Currency Converter Pro", "Convert between 25+ currencies with live rates.", (
            Spec("Convert Currency", "Convert an amount between currencies.",
                 Convert(w, "from_currency", "to_currency", "amount", ("from", "to", "rate", "amount", "result")),
                 (string("from_currency", "Source currency code", "USD"),
                  string("to_currency", "Target currency code", "EUR"), number("amount", "Amount to convert", 100)),
                 asks=("Convert {e} for me.", "How much is {e}?"), facts=("result",)),
            Spec("Currency Info", "Name and symbol of a currency code.",
                 Detail(w.currencies, "code", {"code": "code", "name": "name", "symbol": "symbol"}),
                 (string("code", "Currency code", "JPY"),)),
            Spec("Search Currency", "Currency codes matching a name.",
                 Search(w.currencies, "name", {"code": "code", "name": "name"}),
                 (string("name", "Currency name", "Yen"),)),
        )),
        ToolSpec("Finance", "CoinGecko", "Cryptocurrency prices, market caps and rankings.", (
            Spec("Search Coins", "Coins matching a name.", Search(cr, "query", {"coin_id": "symbol", "name": "name",
                                                                                "market_cap_rank": "rank"},
                                                                  wrap="coins"),
                 (string("query", "Coin name", "Bitcoin"),)),
            Spec("Coin Price", "USD price and 24h change of a coin id.",
                 Detail(cr, "coin_id", {"id": "symbol", "usd": "price_usd", "usd_24h_change": "change_24h"}),
                 (string("coin_id", "Coin id", "BTC1"),),
                 asks=("What's the price of {e} in dollars?", "How much is one {e} worth right now?"),
                 facts=("usd",), flaky=Status.API_NOT_WORKING),
            Spec("Coin Market Data", "Market cap and supply of a coin id.",
                 Detail(cr, "coin_id", {"id": "symbol", "market_cap_musd": "market_cap_musd",
                                        "max_supply": "max_supply", "rank": "rank"}),
                 (string("coin_id", "Coin id", "BTC1"),),
                 asks=("What's the market cap and maximum supply of {e}?",), facts=("market_cap_musd", "max_supply")),
        )),
        ToolSpec("Finance", "Stock Screener", "Screen stocks by sector and exchange.", (
            Spec("Stocks by Sector", "Stocks of a sector, paginated.",
                 ByField(st, "sector", "sector", {"symbol": "symbol", "company": "company", "price": "price"}),
                 (string("sector", "Sector name", "Technology"),), (page(),),
                 asks=("How many {e} stocks does the screener track?",), facts=("total",)),
            Spec("Stocks by Exchange", "Stocks listed on an exchange.",
                 ByField(st, "exchange", "exchange", {"symbol": "symbol", "company": "company"}),
                 (string("exchange", "Exchange code", "NYSE"),), (page(),),
                 asks=("How many stocks are listed on the {e}?",), facts=("total",)),
            Spec("Company Sector", "Sector of a company by exact name.",
                 Detail(st, "company", {"company": "company", "symbol": "symbol", "sector": "sector"}, by="name"),
                 (string("company", "Company name", "Apple Inc"),),
                 asks=("What's the ticker symbol of {e}, and which sector is it in?",), facts=("symbol", "sector")),
        )),
    ]


def _ecommerce(w: World) -> list[ToolSpec]:
    pr = w.products
    asin = string("asin", "Amazon product ASIN", "B07ZPKBL9V")
    return [
        ToolSpec("eCommerce", "Amazon Data Scraper", "Product details, offers and reviews from Amazon.", (
            Spec("Search Products", "Products matching a query.",
                 Search(pr, "search_query", {"asin": "asin", "name": "title", "price": "price"}),
                 (string("search_query", "Search text", "Acme Blender"),)),
            Spec("Product Details", "Brand, rating and review count of an ASIN.",
                 Detail(pr, "asin", {"name": "title", "brand": "brand", "stars": "rating", "total_reviews": "reviews"}),
                 (asin,),
                 asks=("How is the {e} rated on Amazon, and by how many reviewers?",
                       "What's the star rating and review count of the {e}?"),
                 facts=("stars", "total_reviews")),
            Spec("Product Offers", "Price, seller and stock of an ASIN.",
                 Detail(pr, "asin", {"name": "title", "price": "price", "seller": "seller", "in_stock": "in_stock"}),
                 (asin,),
                 asks=("How much does the {e} cost, and who sells it?",
                       "What's the price of the {e}, and which store sells it?"),
                 facts=("price", "seller"), flaky=Status.RATE_LIMIT),
            Spec("Product Reviews", "Top review of an ASIN.",
                 Detail(pr, "asin", {"name": "title", "top_review": "top_review"}), (asin,)),
        )),
        ToolSpec("eCommerce", "Real-Time Product Search", "Product offers from many online stores.", (
            Spec("Search", "Products matching a query.", Search(pr, "q", {"product_id": "asin", "title": "title"},
                                                               wrap="data"),
                 (string("q", "Query", "Acme Blender"),)),
            Spec("Product Shipping", "Delivery time of a product id.",
                 Detail(pr, "product_id", {"title": "title", "shipping_days": "shipping_days",
                                           "in_stock": "in_stock"}),
                 (string("product_id", "Product id", "B07ZPKBL9V"),),
                 asks=("How long does shipping take for the {e}?",), facts=("shipping_days",)),
            Spec("Product by Title", "A product by exact title.",
                 Detail(pr, "title", {"title": "title", "price": "price", "rating": "rating"}, by="name"),
                 (string("title", "Product title", "Acme Blender Echo"),),
                 asks=("Find the price of the {e}.",), facts=("price",)),
            Spec("Seller Products", "Products sold by a store.",
                 ByField(pr, "seller", "seller", {"product_id": "asin", "title": "title", "price": "price"}),
                 (string("seller", "Store name", "Golden Harbor Store"),), (page(),)),
        )),
        ToolSpec("eCommerce", "Brand Catalog", "Browse products by brand.", (
            Spec("Products by Brand", "Products of a brand, paginated.",
                 ByField(pr, "brand", "brand", {"asin": "asin", "title": "title", "price": "price"}),
                 (string("brand", "Brand name", "Acme"),), (page(),),
                 asks=("How many {e} products are in the catalog?",), facts=("total",)),
            Spec("Brand Product Rating", "Rating of a product by exact title.",
                 Detail(pr, "title", {"title": "title", "brand": "brand", "rating": "rating"}, by="name"),
                 (string("title", "Product title", "Acme Blender Echo"),),
                 asks=("What rating does the {e} have?",), facts=("rating",)),
        )),
        ToolSpec("eCommerce", "Price Tracker", "Price tracking and seller information.", (
            Spec("Track Search", "Products matching a query.", Search(pr, "query", {"asin": "asin", "title": "title"}),
                 (string("query", "Query", "Acme Blender"),)),
            Spec("Price by ASIN", "Current price and seller of an ASIN.",
                 Detail(pr, "asin", {"asin": "asin", "current_price": "price", "seller": "seller"}), (asin,),
                 asks=("What's the current price of the {e}?",), facts=("current_price",),
                 flaky=Status.API_NOT_WORKING),
        )),
    ]


def _food(w: World) -> list[ToolSpec]:
    rc = w.recipes
    return [
        ToolSpec("Food", "Spoonacular", "Recipes, ingredients and nutrition from Spoonacular.", (
            Spec("Search Recipes", "Recipes matching a query.", Search(rc, "query", {"recipe_id": "recipe_id",
                                                                                     "title": "title"}),
                 (string("query", "Recipe name", "Lemon Italian Risotto"),)),
            Spec("Get Recipe Information", "Prep time, servings and ingredients of a recipe id.",
                 Detail(rc, "recipe_id", {"title": "title", "readyInMinutes": "prep_minutes", "servings": "servings",
                                          "ingredients": "ingredients"}),
                 (number("recipe_id", "Recipe id", 716429),),
                 asks=("How long does it take to make {e}, and how many servings does it make?",
                       "How many servings does {e} make, and how long does it take?"),
                 facts=("readyInMinutes", "servings")),
            Spec("Recipe Nutrition", "Calories and protein of a recipe id.",
                 Detail(rc, "recipe_id", {"title": "title", "calories": "calories", "protein_g": "protein_g"}),
                 (number("recipe_id", "Recipe id", 716429),),
                 asks=("How many calories and how much protein are in {e}?",
                       "What's the calorie and protein content of {e}?"),
                 facts=("calories", "protein_g"), flaky=Status.RATE_LIMIT),
            Spec("Recipes by Cuisine", "Recipes of a cuisine, paginated.",
                 ByField(rc, "cuisine", "cuisine", {"recipe_id": "recipe_id", "title": "title"}),
                 (string("cuisine", "Cuisine", "Italian"),), (page(),),
                 asks=("How many {e} recipes are there?",), facts=("total",)),
        )),
        ToolSpec("Food", "Tasty", "Recipes and cooking videos from Tasty.", (
            Spec("Recipes List", "Recipes matching a query.",
                 Search(rc, "q", {"recipe_id": "recipe_id", "name": "title"}),
                 (string("q", "Query", "Lemon Italian Risotto"),)),
            Spec("Recipe Details", "Difficulty and rating of a recipe id.",
                 Detail(rc, "recipe_id", {"name": "title", "difficulty": "difficulty", "user_ratings": "rating"}),
                 (number("recipe_id", "Recipe id", 716429),),
                 asks=("How difficult is {e} to cook, and how is it rated?", "Is {e} easy to make? How is it rated?"),
                 facts=("difficulty", "user_ratings")),
            Spec("Recipes by Difficulty", "Recipes of a difficulty level.",
                 ByField(rc, "difficulty", "difficulty", {"recipe_id": "recipe_id", "name": "title"}),
                 (string("difficulty", "Easy, Medium or Hard", "Easy"),), (page(),)),
        )),
        ToolSpec("Food", "Edamam Nutrition Analysis", "Nutrition analysis for recipes.", (
            Spec("Nutrition Data", "Calories and vegetarian flag of a recipe title.",
                 Detail(rc, "recipe", {"recipe": "title", "calories": "calories", "vegetarian": "vegetarian"},
                        by="name"), (string("recipe", "Recipe title", "Lemon Italian Risotto"),),
                 asks=("How many calories does {e} have?",), facts=("calories",)),
            Spec("Ingredients", "Ingredient list of a recipe title.",
                 Detail(rc, "recipe", {"recipe": "title", "ingredients": "ingredients"}, by="name"),
                 (string("recipe", "Recipe title", "Lemon Italian Risotto"),),
                 asks=("What ingredients do I need for {e}?",), facts=("ingredients.0", "ingredients.1")),
        )),
        ToolSpec("Food", "Worldwide Recipes", "Recipes from kitchens around the world.", (
            Spec("Search", "Recipes matching a query.", Search(rc, "query", {"recipe_id": "recipe_id", "title": "title",
                                                                             "cuisine": "cuisine"}),
                 (string("query", "Query", "Tagine"),)),
            Spec("Detail", "Cooking time and calories of a recipe id.",
                 Detail(rc, "recipe_id", {"title": "title", "total_time": "prep_minutes", "calories": "calories"}),
                 (number("recipe_id", "Recipe id", 716429),),
                 asks=("What's the total cooking time for {e}?",), facts=("total_time",), flaky=Status.TIMEOUT),
            Spec("Explore Cuisine", "Recipes of a cuisine.",
                 ByField(rc, "cuisine", "cuisine", {"recipe_id": "recipe_id", "title": "title", "rating": "rating"}),
                 (string("cuisine", "Cuisine", "Thai"),), (page(),)),
        )),
    ]


def tools(world: World) -> list[ToolSpec]:
    return _finance(world) + _ecommerce(world) + _food(world)
