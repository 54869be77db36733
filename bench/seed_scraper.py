#!/usr/bin/python3
"""seed_scraper.py: the seeds' WebScraper ("Real-World Example: Web Scraper
with Speedup Measurement"), as written there: requests + BeautifulSoup +
ThreadPoolExecutor, breadth-first to max_depth, same domain only.

The peer that bench/bench-crawl.sh measures `weft crawl` against. Changes
from the seed, each needed to run it against the embedded site and to
compare like with like:
  - start URL, workers, depth and mode come from the command line, and the
    results are summarised (pages, errors) instead of printing five;
  - links drop their #fragment (urldefrag), as weft's normalisation does,
    so both crawlers fetch the same set of pages (the seed would fetch
    /page/5 and /page/5#x twice);
  - scrape_page marks a URL visited under a lock and skips it when another
    thread got there first: the seed's threaded run checks `visited`
    without one and fetches some pages twice.

Usage: seed_scraper.py URL [workers] [max_depth] [sequential|threaded|both]
"""
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from urllib.parse import urldefrag, urljoin, urlparse

import requests
from bs4 import BeautifulSoup


class WebScraper:
    def __init__(self, start_url, max_workers=5, max_depth=2):
        self.start_url = start_url
        self.max_workers = max_workers
        self.max_depth = max_depth
        self.visited = set()
        self.lock = threading.Lock()
        self.results = defaultdict(list)
        self.session = requests.Session()
        self.session.headers.update({
            'User-Agent': 'Mozilla/5.0 (Python Educational Scraper)'
        })

    def scrape_page(self, url, depth=0):
        """Scrape a single page and extract links"""
        with self.lock:
            if depth > self.max_depth or url in self.visited:
                return []
            self.visited.add(url)
        next_urls = []
        try:
            response = self.session.get(url, timeout=5)
            response.raise_for_status()
            soup = BeautifulSoup(response.content, 'html.parser')
            title = soup.title.string if soup.title else "No title"
            word_count = len(response.text.split())
            self.results[url] = {
                'title': title,
                'words': word_count,
                'status': response.status_code,
                'depth': depth
            }
            # Extract links for next level
            if depth < self.max_depth:
                for link in soup.find_all('a', href=True):
                    next_url = urldefrag(urljoin(url, link['href']))[0]
                    # Only same domain
                    if urlparse(next_url).netloc == urlparse(self.start_url).netloc:
                        if next_url not in self.visited:
                            next_urls.append((next_url, depth + 1))
        except requests.RequestException as e:
            self.results[url] = {
                'title': f"Error: {str(e)}",
                'words': 0,
                'status': 0,
                'depth': depth
            }
        return next_urls

    def scrape_sequential(self):
        """Single-threaded approach"""
        to_visit = [(self.start_url, 0)]
        while to_visit:
            url, depth = to_visit.pop(0)
            next_urls = self.scrape_page(url, depth)
            to_visit.extend(next_urls)

    def scrape_threaded(self):
        """Multi-threaded approach"""
        visited = set()
        with ThreadPoolExecutor(max_workers=self.max_workers) as executor:
            futures = {}
            # Submit initial URL
            future = executor.submit(self.scrape_page, self.start_url, 0)
            futures[future] = (self.start_url, 0)
            while futures:
                # Process completed tasks
                for future in as_completed(futures):
                    url, depth = futures.pop(future)
                    next_urls = future.result()
                    # Submit new URLs
                    for next_url, next_depth in next_urls:
                        if next_url not in visited:
                            visited.add(next_url)
                            f = executor.submit(self.scrape_page, next_url, next_depth)
                            futures[f] = (next_url, next_depth)

    def print_results(self):
        """Display scraped data"""
        print(f"\nScraped {len(self.results)} pages:")
        print("-" * 60)
        for url, data in sorted(self.results.items())[:5]:
            print(f"{url}")
            print(f" Title: {str(data['title'])[:50]}")
            print(f" Words: {data['words']}, Status: {data['status']}")


def main():
    url = sys.argv[1]
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    depth = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    mode = sys.argv[4] if len(sys.argv) > 4 else "both"
    scraper = WebScraper(url, max_workers=workers, max_depth=depth)
    seq_time = None
    if mode in ("sequential", "both"):
        print("Sequential scraping...")
        start = time.time()
        scraper.scrape_sequential()
        seq_time = time.time() - start
        print(f"Sequential: {seq_time:.2f}s, {len(scraper.results)} pages")
        scraper.results.clear()
        scraper.visited.clear()
    if mode in ("threaded", "both"):
        print("\nThreaded scraping...")
        start = time.time()
        scraper.scrape_threaded()
        threaded_time = time.time() - start
        print(f"Threaded: {threaded_time:.2f}s, {len(scraper.results)} pages")
        if seq_time is not None:
            print(f"\nSpeedup: {seq_time / threaded_time:.1f}x")
            print(f"Time saved: {seq_time - threaded_time:.2f}s")
    scraper.print_results()
    errors = sum(1 for d in scraper.results.values() if d['status'] == 0)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
